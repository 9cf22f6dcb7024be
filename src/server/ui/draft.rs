//! The Draft page: a pack edited in the browser, checked as the folder would load with it
//! (`load_dir_with`: nothing is written), tested (`selftest`), replayed against the recent
//! traffic in place of the live pack (`crate::replay`, as `inflight replay --against` shows it),
//! and, with `--ui-write`, applied: written into the rules folder atomically, after which the
//! ordinary hot reload checks it again and swaps it in.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Component, Path, PathBuf};
use std::time::Instant;

use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::{AppState, Console, check_token, console, off_the_workers, render};
use crate::error::Diagnostic;
use crate::protocol::parse_request;
use crate::replay::{Difference, Summary, Tally, cut_text, digest, same_answer};
use crate::rules::{Loaded, PackOverride, Ruleset, Verdict, load_dir_with, selftest};

/// What a new pack starts as.
const NEW_PACK: &str = r#"[pack]
name = "draft"
description = "What this pack is for"

[[rule]]
id = "draft.example"
keywords = ["example phrase"]
score = 10
tags = ["draft"]
mode = "shadow"               # shadow first: counted and logged, never changes an answer
examples.match = ["an example phrase here"]
examples.no_match = ["nothing to see"]
"#;

/// Changed messages listed on the page; the counts cover all of them.
const CHANGES_SHOWN: usize = 500;
/// Characters of a message's text shown in the list of changes.
const TEXT_SHOWN: usize = 240;

/// The Draft form: which pack, its text, and which button was pressed.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct DraftForm {
    csrf: String,
    pack: String,
    text: String,
    action: String,
}

/// `?pack=NAME` (a pack of the folder) or `?new=1`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct DraftQuery {
    pack: Option<String>,
    new: Option<String>,
}

/// A diagnostic as the page lists it.
#[derive(Debug)]
pub(super) struct DiagRow {
    error: bool,
    text: String,
    /// Its line, when it is in the draft.
    line: Option<usize>,
}

/// A line of the draft with the diagnostics on it.
#[derive(Debug)]
pub(super) struct LineRow {
    number: usize,
    text: String,
    notes: Vec<String>,
    error: bool,
}

/// Before and after of one count.
#[derive(Debug)]
pub(super) struct Compared {
    name: String,
    mode: String,
    before: String,
    after: String,
    changed: bool,
}

/// One message answered differently.
#[derive(Debug)]
pub(super) struct Change {
    line: usize,
    text: String,
    before: String,
    after: String,
    rules: String,
}

/// The replay's report.
#[derive(Debug, Default)]
pub(super) struct ReplayView {
    messages: u64,
    errors: usize,
    actions: Vec<Compared>,
    rules: Vec<Compared>,
    never_hit: Vec<String>,
    changes: Vec<Change>,
    summary: Summary,
    took_ms: f64,
}

/// The selftest's report.
#[derive(Debug)]
pub(super) struct TestView {
    examples: usize,
    cases: usize,
    failures: Vec<String>,
}

/// Everything the page shows after a button.
#[derive(Debug, Default)]
pub(super) struct Outcome {
    /// Check: the compiled draft's hash, or none when it failed.
    hash: Option<String>,
    diagnostics: Vec<DiagRow>,
    lines: Vec<LineRow>,
    tests: Option<TestView>,
    replay: Option<ReplayView>,
    applied: Option<String>,
    notice: Option<String>,
}

#[derive(Template)]
#[template(path = "draft.html")]
struct DraftPage<'a> {
    nav: &'static str,
    csrf: &'a str,
    packs: Vec<String>,
    pack: &'a str,
    text: &'a str,
    write: bool,
    recent: Option<(usize, usize)>,
    outcome: Option<Outcome>,
}

/// The packs of the folder serving, relative to it.
fn packs(state: &AppState) -> Vec<String> {
    let dir = state.live.dir();
    let files = state.live.current().map(|rs| rs.files().to_vec()).unwrap_or_default();
    files.iter().map(|f| f.strip_prefix(dir).unwrap_or(f).display().to_string()).collect()
}

/// `dir/NAME` when NAME is a plain relative `*.toml` path inside the folder (no `..`, no hidden
/// component the loader would skip, nothing absolute).
fn pack_path(dir: &Path, name: &str) -> Result<PathBuf, String> {
    let name = name.trim();
    let relative = Path::new(name);
    if name.is_empty() || name.len() > 200 {
        return Err("give the pack a file name, such as house.toml".into());
    }
    if !name.ends_with(".toml") {
        return Err(format!("{name:?}: a pack's file name ends in .toml"));
    }
    let plain = relative.components().all(|c| match c {
        Component::Normal(part) => !part.to_string_lossy().starts_with('.'),
        _ => false,
    });
    if !plain || name.contains('\\') {
        return Err(format!("{name:?}: a path inside the rules folder, without .., leading dots or a leading /"));
    }
    Ok(dir.join(relative))
}

fn page<'a>(
    state: &AppState,
    console: &'a Console,
    pack: &'a str,
    text: &'a str,
    outcome: Option<Outcome>,
) -> DraftPage<'a> {
    DraftPage {
        nav: "draft",
        csrf: console.csrf(),
        packs: packs(state),
        pack,
        text,
        write: console.config().write,
        recent: console.recent().map(|r| (r.len(), r.capacity())),
        outcome,
    }
}

/// `GET /ui/draft`: a pack of the folder (the first by default) or a new one in the editor.
pub(super) async fn page_get(state: web::Data<AppState>, query: web::Query<DraftQuery>) -> HttpResponse {
    let console = match console(&state) {
        Ok(c) => c,
        Err(refused) => return refused.into_response(),
    };
    let all = packs(&state);
    let (name, text, notice) = if query.new.is_some() {
        ("new.toml".to_owned(), NEW_PACK.to_owned(), None)
    } else {
        let name = query.pack.clone().or_else(|| all.first().cloned()).unwrap_or_else(|| "new.toml".into());
        match pack_path(state.live.dir(), &name).and_then(|p| std::fs::read_to_string(&p).map_err(|e| e.to_string())) {
            Ok(text) => (name, text, None),
            Err(e) => (name.clone(), String::new(), Some(format!("cannot open {name}: {e}"))),
        }
    };
    let outcome = notice.map(|notice| Outcome { notice: Some(notice), ..Outcome::default() });
    render(&page(&state, console, &name, &text, outcome)).into_response()
}

/// `POST /ui/draft`: Check, Test, Replay or Apply the draft in the form. Compiling a folder and
/// replaying thousands of messages take a while: off the workers that answer the webhook.
pub(super) async fn submit(state: web::Data<AppState>, form: web::Form<DraftForm>) -> HttpResponse {
    let mut form = form.into_inner();
    // A browser submits a textarea's lines joined by CRLF (the HTML form rules); the pack keeps
    // the LF endings it was opened with, so an Apply does not rewrite every line of the file.
    form.text = form.text.replace("\r\n", "\n");
    off_the_workers(move || {
        let console = match console(&state).and_then(|console| check_token(console, &form.csrf).map(|()| console)) {
            Ok(console) => console,
            Err(refused) => return refused,
        };
        let outcome = run(&state, console, &form);
        render(&page(&state, console, &form.pack, &form.text, Some(outcome)))
    })
    .await
}

/// Does what the button asks; every action checks first.
fn run(state: &AppState, console: &Console, form: &DraftForm) -> Outcome {
    let dir = state.live.dir();
    let path = match pack_path(dir, &form.pack) {
        Ok(path) => path,
        Err(e) => return Outcome { notice: Some(e), ..Outcome::default() },
    };
    let draft = PackOverride { path: &path, text: &form.text };
    let (loaded, mut outcome) = check(dir, draft);
    let Some(loaded) = loaded else {
        if form.action == "apply" {
            outcome.notice = Some("not written: the draft does not pass check".into());
        }
        return outcome;
    };
    match form.action.as_str() {
        "test" => outcome.tests = Some(test(&loaded.ruleset)),
        "replay" => match (console.recent(), state.live.current()) {
            (Some(recent), Some(live)) => outcome.replay = Some(replay(&recent.snapshot(), &live, &loaded.ruleset)),
            (None, _) => {
                outcome.notice = Some("no recent traffic is kept: start the service with --ui-recent N".into());
            }
            (_, None) => outcome.notice = Some("no rule set is serving to compare with".into()),
        },
        "apply" if console.config().write => outcome.applied = Some(apply(&path, &form.text, &loaded.ruleset)),
        "apply" => outcome.notice = Some("applying is off: start the service with --ui-write".into()),
        _ => {}
    }
    outcome
}

/// Compiles the folder with the draft in place of its pack: the rule set, or the diagnostics
/// laid on the draft's lines.
fn check(dir: &Path, draft: PackOverride<'_>) -> (Option<Loaded>, Outcome) {
    let (loaded, diagnostics) = match load_dir_with(dir, Some(draft)) {
        Ok(loaded) => {
            let warnings = loaded.warnings.clone();
            (Some(loaded), warnings)
        }
        Err(err) => (None, err.0),
    };
    let in_draft = |d: &Diagnostic| (d.file == draft.path && d.line > 0).then_some(d.line);
    let mut lines: Vec<LineRow> = draft
        .text
        .lines()
        .enumerate()
        .map(|(i, text)| LineRow { number: i + 1, text: text.to_owned(), notes: Vec::new(), error: false })
        .collect();
    for d in &diagnostics {
        if let Some(row) = in_draft(d).and_then(|line| lines.get_mut(line - 1)) {
            row.notes.push(d.to_string());
            row.error |= d.is_error();
        }
    }
    let outcome = Outcome {
        hash: loaded.as_ref().map(|l| l.ruleset.hash().to_owned()),
        diagnostics: diagnostics
            .iter()
            .map(|d| DiagRow { error: d.is_error(), text: d.to_string(), line: in_draft(d) })
            .collect(),
        lines: if diagnostics.iter().any(|d| in_draft(d).is_some()) { lines } else { Vec::new() },
        ..Outcome::default()
    };
    (loaded, outcome)
}

fn test(ruleset: &Ruleset) -> TestView {
    let report = selftest::run(ruleset);
    TestView {
        examples: report.examples_run,
        cases: report.cases_run,
        failures: report.failures.iter().map(ToString::to_string).collect(),
    }
}

/// Every kept body decided by the rule set serving (before) and by the draft's (after).
pub(super) fn replay(bodies: &[actix_web::web::Bytes], live: &Ruleset, draft: &Ruleset) -> ReplayView {
    let started = Instant::now();
    let (mut before, mut after) = (Tally::new(live), Tally::new(draft));
    let mut view = ReplayView::default();
    for (i, body) in bodies.iter().enumerate() {
        let Ok(request) = parse_request(body) else {
            view.errors += 1;
            continue;
        };
        view.messages += 1;
        let (old, new) = (live.evaluate(&request.message), draft.evaluate(&request.message));
        before.count(&old);
        after.count(&new);
        if same_answer(&old, &new) {
            continue;
        }
        let diff = Difference::new(i + 1, &old, &new);
        view.summary.count(&diff);
        if view.changes.len() < CHANGES_SHOWN {
            let added = diff.rules_added.iter().map(|r| format!("+{r}"));
            let removed = diff.rules_removed.iter().map(|r| format!("-{r}"));
            let text = request.message.text.as_deref().unwrap_or("(no text)");
            view.changes.push(Change {
                line: diff.line,
                text: cut_text(text, TEXT_SHOWN),
                before: digest(&old),
                after: digest(&new),
                rules: added.chain(removed).collect::<Vec<_>>().join(" "),
            });
        }
    }
    view.actions = Verdict::ALL
        .iter()
        .map(|&v| compared(v.name(), String::new(), Some(before.action(v)), Some(after.action(v))))
        .collect();
    (view.rules, view.never_hit) = rules_compared(&before, &after);
    view.took_ms = started.elapsed().as_secs_f64() * 1e3;
    view
}

fn compared(name: &str, mode: String, before: Option<u64>, after: Option<u64>) -> Compared {
    let show = |n: Option<u64>| n.map_or("-".to_owned(), |n| n.to_string());
    Compared { name: name.to_owned(), mode, before: show(before), after: show(after), changed: before != after }
}

/// Messages hit per rule before and after, most hit first; the rules hit by neither apart.
fn rules_compared(before: &Tally<'_>, after: &Tally<'_>) -> (Vec<Compared>, Vec<String>) {
    let mut ids: BTreeMap<&str, ()> = before.ruleset.rules().iter().map(|r| (r.id.as_str(), ())).collect();
    ids.extend(after.ruleset.rules().iter().map(|r| (r.id.as_str(), ())));
    let mut rows: Vec<(u64, u64, Compared)> = Vec::new();
    let mut never = Vec::new();
    for id in ids.keys() {
        let (b, a) = (before.hits_of(id), after.hits_of(id));
        if b.unwrap_or(0) == 0 && a.unwrap_or(0) == 0 {
            never.push((*id).to_owned());
            continue;
        }
        let mode = match (before.mode_of(id), after.mode_of(id)) {
            (Some(o), Some(n)) if o != n => format!("{}→{}", o.name(), n.name()),
            (Some(m), _) | (None, Some(m)) => m.name().to_owned(),
            (None, None) => String::new(),
        };
        rows.push((b.unwrap_or(0), a.unwrap_or(0), compared(id, mode, b, a)));
    }
    rows.sort_by(|x, y| (y.0, y.1).cmp(&(x.0, x.1)).then_with(|| x.2.name.cmp(&y.2.name)));
    (rows.into_iter().map(|r| r.2).collect(), never)
}

/// Writes the checked draft into the folder: a hidden temporary file beside the pack (the loader
/// skips names starting with `.`), flushed to disk, then renamed over it, so the watcher never
/// reads half a file.
fn apply(path: &Path, text: &str, compiled: &Ruleset) -> String {
    let written = (|| -> std::io::Result<()> {
        let parent = path.parent().ok_or_else(|| std::io::Error::other("the pack has no folder"))?;
        std::fs::create_dir_all(parent)?;
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let temp = parent.join(format!(".{name}.console-{}.tmp", std::process::id()));
        let mut file = std::fs::File::create(&temp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&temp, path).inspect_err(|_| {
            let _ = std::fs::remove_file(&temp);
        })?;
        // The rename itself reaches the disk with the folder; not fatal where unsupported.
        let _ = std::fs::File::open(parent).and_then(|d| d.sync_all());
        Ok(())
    })();
    match written {
        Ok(()) => {
            tracing::info!(pack = %path.display(), ruleset = compiled.hash(), "console: draft applied");
            format!(
                "written to {}; the hot reload will serve rule set {} once it has checked the folder again",
                path.display(),
                compiled.hash()
            )
        }
        Err(e) => format!("not written: cannot write {}: {e}", path.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("a.toml"), "[[rule]]\nid = \"a.one\"\nkeywords = [\"apple\"]\n").expect("write");
        dir
    }

    #[test]
    fn check_lays_errors_on_the_draft_lines_and_writes_nothing() {
        let dir = folder();
        let path = dir.path().join("b.toml");
        let text = "[[rule]]\nid = \"b.one\"\nregex = ['(unclosed']\n";
        let (loaded, outcome) = check(dir.path(), PackOverride { path: &path, text });
        assert!(loaded.is_none() && outcome.hash.is_none());
        let marked: Vec<usize> = outcome.lines.iter().filter(|l| l.error).map(|l| l.number).collect();
        assert_eq!(marked, [3]);
        assert_eq!(outcome.diagnostics.first().and_then(|d| d.line), Some(3));
        assert!(!path.exists(), "check never writes");
    }

    #[test]
    fn a_draft_replaces_its_pack_or_joins_the_folder() {
        let dir = folder();
        let replaced = PackOverride {
            path: &dir.path().join("a.toml"),
            text: "[[rule]]\nid = \"a.two\"\nkeywords = [\"pear\"]\n",
        };
        let (loaded, _) = check(dir.path(), replaced);
        let ids: Vec<String> = loaded.expect("compiles").ruleset.rules().iter().map(|r| r.id.clone()).collect();
        assert_eq!(ids, ["a.two"]);
        let added = PackOverride {
            path: &dir.path().join("sub/c.toml"),
            text: "[[rule]]\nid = \"c.one\"\nkeywords = [\"plum\"]\n",
        };
        let (loaded, _) = check(dir.path(), added);
        let ids: Vec<String> = loaded.expect("compiles").ruleset.rules().iter().map(|r| r.id.clone()).collect();
        assert_eq!(ids, ["a.one", "c.one"]);
    }

    #[test]
    fn pack_names_stay_inside_the_folder() {
        let dir = Path::new("/rules");
        for ok in ["house.toml", "sub/house.toml", "a-b_c.toml"] {
            assert_eq!(pack_path(dir, ok), Ok(dir.join(ok)), "{ok}");
        }
        for bad in ["", "house", "../x.toml", "/etc/x.toml", ".hidden.toml", "sub/../x.toml", "a\\b.toml", "./x.toml"] {
            assert!(pack_path(dir, bad).is_err(), "{bad:?} should be refused");
        }
    }
}
