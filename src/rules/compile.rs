//! Rule files → `Ruleset`, or every diagnostic at once.
//!
//! The whole folder is read, parsed and validated in one pass that collects all errors before
//! refusing; only a fully valid folder becomes a `Ruleset`. `inflight check`, `inflight test`,
//! the server's start and every reload go through `load_dir`, so what `check` accepts is exactly
//! what would serve.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::SystemTime;

use regex::RegexBuilder;
use regex_automata::nfa::thompson;
use regex_syntax::hir::Hir;
use toml::Spanned;

use super::matcher::{LevelBuilder, REGEX_SIZE_LIMIT};
use super::model::{CondValue, Conditions, Field, Forms, ListDef, MatchMode, PackFile, RuleDef};
use super::normalize::{Level, normalize_keyword};
use super::stateful::{self, Located};
use super::variants::{english_forms, is_collapse_target, strict_variants};
use super::{Case, Clause, Condition, CounterSpec, Example, Rule, Ruleset, StateClause};
use crate::error::{Diagnostic, LineIndex, LoadError, Position};
use crate::message::{ConditionKey, Test};

/// Compiled size limit of one regex: a pathological pattern is refused at load instead of
/// eating memory (Discord AutoMod allows 260 characters; this is far above any sane pattern).
/// Keywords shorter than this in `substring` mode hit inside too many words.
const SHORT_SUBSTRING_KEYWORD: usize = 3;

/// A successfully compiled folder and the warnings it produced.
#[derive(Debug)]
pub struct Loaded {
    /// The compiled rules.
    pub ruleset: Ruleset,
    /// Every warning, with its place.
    pub warnings: Vec<Diagnostic>,
}

/// Reads every `*.toml` pack under `dir` (recursively, in path order) and compiles them.
pub fn load_dir(dir: &Path) -> Result<Loaded, LoadError> {
    load_dir_with(dir, None)
}

/// One pack's text standing in for the file at `path` (which may not exist yet): the console's
/// draft, checked as the folder would load with it, without writing anything.
#[derive(Debug, Clone, Copy)]
pub struct PackOverride<'a> {
    /// The pack's path, `dir` joined with its name.
    pub path: &'a Path,
    /// Its text.
    pub text: &'a str,
}

/// `load_dir`, with `draft` read in place of its file (or added, when the file is new).
/// Diagnostics name the real path, so an error lands on the draft's own line.
pub fn load_dir_with(dir: &Path, draft: Option<PackOverride<'_>>) -> Result<Loaded, LoadError> {
    let mut diags = Vec::new();
    let found = find_packs(dir).map(|mut files| {
        if let Some(d) = draft
            && !files.iter().any(|f| f == d.path)
        {
            files.push(d.path.to_path_buf());
            files.sort();
        }
        files
    });
    let files = match found {
        Ok(files) => files,
        Err(e) => {
            let message = format!("cannot read rules folder: {e}");
            return Err(LoadError(vec![Diagnostic::error(dir, Position::default(), None, message)]));
        }
    };
    if files.is_empty() {
        // Almost always a mistake (a wrong path, a volume not mounted yet, a sync half done);
        // serving an empty rule set would silently allow everything.
        let message = "no rule packs (*.toml) in the rules folder";
        return Err(LoadError(vec![Diagnostic::error(dir, Position::default(), None, message)]));
    }
    let mut hasher = Fnv::new();
    let mut sources = Vec::new();
    for path in &files {
        let read = match draft {
            Some(d) if d.path == path => Ok(d.text.to_owned()),
            _ => std::fs::read_to_string(path),
        };
        match read {
            Ok(text) => {
                hasher.add(path.strip_prefix(dir).unwrap_or(path).to_string_lossy().as_bytes());
                hasher.add(text.as_bytes());
                sources.push((path.clone(), text));
            }
            Err(e) => diags.push(Diagnostic::error(path, Position::default(), None, format!("cannot read file: {e}"))),
        }
    }
    let mut packs = Vec::new();
    for (path, text) in &sources {
        match toml::from_str::<PackFile>(text) {
            Ok(pack) => packs.push(SourcePack { path, lines: LineIndex::new(text), pack }),
            Err(e) => {
                let pos = e.span().map(|s| Position::of_offset(text, s.start)).unwrap_or_default();
                let message = e.message().trim().to_owned();
                // toml names the offending key inside the rule; find the rule id if we can.
                let rule = e.span().and_then(|s| rule_id_before(text, s.start));
                diags.push(Diagnostic::error(path, pos, rule.as_deref(), message));
            }
        }
    }
    let mut compiler = Compiler { diags, hasher, ..Compiler::default() };
    compiler.collect_lists(&packs);
    compiler.collect_policy(&packs);
    compiler.collect_counters(&packs);
    for pack in &packs {
        compiler.compile_pack(pack);
    }
    // The texts and their parsed form (a few MiB for a 50,000-keyword folder) are not needed to
    // build the automata: freed, and their pages handed back to the system (jemalloc would keep
    // them for seconds and could not reuse them for the automata's large blocks), they do not add
    // to the load's peak memory (50k pack with jemalloc: 87 → 81 MiB).
    drop(packs);
    drop(sources);
    crate::memory::purge_freed_pages();
    compiler.finish(files)
}

struct SourcePack<'a> {
    path: &'a PathBuf,
    lines: LineIndex<'a>,
    pack: PackFile,
}

impl SourcePack<'_> {
    fn pos<T>(&self, spanned: &Spanned<T>) -> Position {
        self.lines.position(spanned.span().start)
    }

    /// Keywords written in this pack, as list entries.
    fn entries(&self, keywords: &[Spanned<String>]) -> Vec<ListEntry> {
        let file: Rc<Path> = Rc::from(self.path.as_path());
        keywords
            .iter()
            .map(|k| ListEntry { keyword: k.get_ref().clone(), file: Rc::clone(&file), position: self.pos(k) })
            .collect()
    }

    fn name(&self) -> String {
        self.pack
            .pack
            .as_ref()
            .and_then(|p| p.name.clone())
            .unwrap_or_else(|| self.path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default())
    }
}

/// A keyword list entry and where it was written.
#[derive(Clone)]
struct ListEntry {
    keyword: String,
    /// Shared by every entry of a file: one path per file, not one per keyword.
    file: Rc<Path>,
    position: Position,
}

/// A keyword of one rule: as written, and normalized at the rule's level.
struct RuleKeyword {
    source: String,
    normalized: String,
}

#[derive(Default)]
struct Compiler {
    diags: Vec<Diagnostic>,
    hasher: Fnv,
    lists: HashMap<String, (Vec<ListEntry>, PathBuf, Position)>,
    drop_score: Option<i64>,
    policy_at: Option<(PathBuf, Position)>,
    rules: Vec<Rule>,
    rule_ids: HashMap<String, (PathBuf, Position)>,
    levels: BTreeMap<Level, LevelBuilder>,
    regex_count: usize,
    cases: Vec<Case>,
    counters: Vec<CounterSpec>,
    counter_at: HashMap<String, (PathBuf, Position)>,
}

impl Compiler {
    fn error(&mut self, file: &Path, pos: Position, rule: Option<&str>, message: impl Into<String>) {
        self.diags.push(Diagnostic::error(file, pos, rule, message));
    }

    fn warning(&mut self, file: &Path, pos: Position, rule: Option<&str>, message: impl Into<String>) {
        self.diags.push(Diagnostic::warning(file, pos, rule, message));
    }

    fn collect_lists(&mut self, packs: &[SourcePack<'_>]) {
        for sp in packs {
            for (name, def) in &sp.pack.lists {
                let pos = sp.pos(def);
                if let Some((_, first_file, first_pos)) = self.lists.get(name) {
                    let message = format!(
                        "list \"{name}\" is defined twice (first at {}:{})",
                        first_file.display(),
                        first_pos.line
                    );
                    self.error(sp.path, pos, None, message);
                    continue;
                }
                let entries = match def.get_ref() {
                    ListDef::Inline(items) => sp.entries(items),
                    ListDef::File(f) => self.read_list_file(sp.path, pos, &f.file),
                };
                self.lists.insert(name.clone(), (entries, sp.path.clone(), pos));
            }
        }
    }

    /// A list file: one entry a line, trimmed, `#` comments and blank lines ignored.
    fn read_list_file(&mut self, pack: &Path, pos: Position, relative: &str) -> Vec<ListEntry> {
        let path = pack.parent().unwrap_or(Path::new(".")).join(relative);
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                self.hasher.add(relative.as_bytes());
                self.hasher.add(text.as_bytes());
                let file: Rc<Path> = Rc::from(path.as_path());
                text.lines()
                    .enumerate()
                    .map(|(i, line)| (i, line.trim()))
                    .filter(|(_, line)| !line.is_empty() && !line.starts_with('#'))
                    .map(|(i, line)| ListEntry {
                        keyword: line.to_owned(),
                        file: Rc::clone(&file),
                        position: Position { line: i + 1, col: 1 },
                    })
                    .collect()
            }
            Err(e) => {
                self.error(pack, pos, None, format!("cannot read list file {}: {e}", path.display()));
                Vec::new()
            }
        }
    }

    fn collect_policy(&mut self, packs: &[SourcePack<'_>]) {
        for sp in packs {
            let Some(policy) = &sp.pack.policy else { continue };
            let pos = sp.pos(policy);
            if let Some((file, first)) = &self.policy_at {
                let message =
                    format!("a second [policy] (the first is at {}:{}); keep exactly one", file.display(), first.line);
                self.error(sp.path, pos, None, message);
                continue;
            }
            self.policy_at = Some((sp.path.clone(), pos));
            self.drop_score = policy.get_ref().drop_score;
        }
    }

    /// `[counters.NAME]` of every pack: unique names, each checked.
    fn collect_counters(&mut self, packs: &[SourcePack<'_>]) {
        for sp in packs {
            for (name, def) in &sp.pack.counters {
                let pos = sp.pos(def);
                if let Some((file, first)) = self.counter_at.get(name) {
                    let message =
                        format!("counter \"{name}\" is declared twice (first at {}:{})", file.display(), first.line);
                    self.error(sp.path, pos, None, message);
                    continue;
                }
                self.counter_at.insert(name.clone(), (sp.path.clone(), pos));
                match stateful::counter(name, def.get_ref()) {
                    Ok(spec) => self.counters.push(spec),
                    Err(errors) => self.located(sp, pos, None, errors),
                }
            }
        }
    }

    /// Reports errors at their value's position, or at `pos` when they have none.
    fn located(&mut self, sp: &SourcePack<'_>, pos: Position, rule: Option<&str>, errors: Vec<Located>) {
        for (span, message) in errors {
            let at = span.map_or(pos, |s| sp.lines.position(s.start));
            self.error(sp.path, at, rule, message);
        }
    }

    fn counter_index(&self, name: &str) -> Option<usize> {
        self.counters.iter().position(|c| c.name == name)
    }

    fn known_counters(&self) -> String {
        let names: Vec<&str> = self.counters.iter().map(|c| c.name.as_str()).collect();
        if names.is_empty() { "none declared".to_owned() } else { names.join(", ") }
    }

    fn compile_pack(&mut self, sp: &SourcePack<'_>) {
        let pack_name = sp.name();
        for def in &sp.pack.rules {
            self.compile_rule(sp, &pack_name, def);
        }
        for case in &sp.pack.cases {
            self.compile_case(sp, case);
        }
    }

    /// A `[[case]]`: one `message`, or a sequence of `messages` with `at` offsets.
    fn compile_case(&mut self, sp: &SourcePack<'_>, case: &Spanned<super::model::CaseDef>) {
        let c = case.get_ref();
        let pos = sp.pos(case);
        let subject = format!("case \"{}\"", c.name);
        let messages = match (&c.message, &c.messages) {
            (Some(m), None) => vec![(m.0.clone(), 0)],
            (None, Some(list)) if !list.is_empty() => {
                let mut out = Vec::with_capacity(list.len());
                let mut last = 0;
                for m in list {
                    let at = match m.at.as_deref().map(parse_offset) {
                        None => last,
                        Some(Ok(at)) if at >= last => at,
                        Some(Ok(_)) => {
                            self.error(sp.path, pos, None, format!("{subject}: `at` goes back in time"));
                            return;
                        }
                        Some(Err(e)) => {
                            self.error(sp.path, pos, None, format!("{subject}: `at`: {e}"));
                            return;
                        }
                    };
                    last = at;
                    out.push((m.message.0.clone(), at));
                }
                out
            }
            _ => {
                let message = format!("{subject}: give one `message`, or a non-empty `messages` sequence");
                self.error(sp.path, pos, None, message);
                return;
            }
        };
        self.cases.push(Case {
            name: c.name.clone(),
            messages,
            expect: c.expect.clone(),
            file: sp.path.clone(),
            position: pos,
        });
    }

    /// One `[[rule]]`: its id, keywords, regexes, conditions and `except` phrases, each checked
    /// (every problem reported); a rule without errors gets its patterns added to its level's
    /// matcher and joins the rule set.
    fn compile_rule(&mut self, sp: &SourcePack<'_>, pack: &str, spanned: &Spanned<RuleDef>) {
        let def = spanned.get_ref();
        let rule_pos = sp.pos(spanned);
        let file = sp.path;
        let errors_before = self.error_count();
        let Some(id) = self.claim_id(sp, spanned) else { return };
        let rid = Some(id.as_str());
        let level = def.normalize;
        let keywords = self.rule_keywords(sp, def, rid);
        let regexes = self.rule_regexes(sp, def, rid);
        let has_patterns = !(def.keywords.is_empty() && def.lists.is_empty() && def.regex.is_empty());
        let has_conditions = def.when.is_some() || def.unless.is_some();
        if !has_patterns && !has_conditions && def.rate.is_none() && def.repeat.is_none() {
            let message =
                "rule has nothing to match: give `keywords`, `lists` or `regex`, or conditions, `rate` or `repeat`";
            self.error(file, rule_pos, rid, message);
        }
        let rate = def
            .rate
            .as_ref()
            .and_then(|r| stateful::rate(r.get_ref()).map_err(|e| self.located(sp, sp.pos(r), rid, e)).ok());
        let repeat = def
            .repeat
            .as_ref()
            .and_then(|r| stateful::repeat(r.get_ref()).map_err(|e| self.located(sp, sp.pos(r), rid, e)).ok());
        let counts = self.rule_counts(sp, def, rid);
        let fields = def.fields.clone().unwrap_or_else(|| vec![Field::Text]);
        if fields.is_empty() {
            self.error(file, rule_pos, rid, "`fields` is empty: the rule would read nothing");
        }
        let when = def.when.as_ref().map(|c| self.compile_condition(sp, sp.pos(c), rid, "when", c.get_ref()));
        let unless = def.unless.as_ref().map(|c| self.compile_condition(sp, sp.pos(c), rid, "unless", c.get_ref()));
        let except = self.rule_except(sp, def, rid);
        if self.error_count() > errors_before {
            return;
        }

        let rule_index = self.rules.len() as u32;
        self.add_patterns(def, rule_index, &keywords, regexes);
        let mut tags = def.tags.clone();
        tags.sort();
        tags.dedup();
        let examples = def.examples.as_ref();
        let to_examples = |list: Option<&Vec<Spanned<String>>>| -> Vec<Example> {
            list.into_iter().flatten().map(|e| Example { text: e.get_ref().clone(), position: sp.pos(e) }).collect()
        };
        self.rules.push(Rule {
            id,
            pack: pack.to_owned(),
            description: def.description.clone(),
            score: def.score,
            tags,
            action: def.action,
            mode: def.mode,
            level,
            match_mode: def.match_mode,
            fields,
            when,
            unless: unless.filter(|c| !c.is_empty()),
            except,
            examples_match: to_examples(examples.map(|e| &e.should_match)),
            examples_no_match: to_examples(examples.map(|e| &e.no_match)),
            file: file.clone(),
            position: rule_pos,
            rate,
            repeat,
            counts,
            has_patterns,
        });
    }

    /// `counts = { NAME = N }`: declared counters, positive amounts. A shadow rule's counts are
    /// never added: a warning says so.
    fn rule_counts(&mut self, sp: &SourcePack<'_>, def: &RuleDef, rid: Option<&str>) -> Vec<(usize, u64)> {
        let mut counts = Vec::new();
        for (name, amount) in def.counts.iter().flatten() {
            let pos = sp.pos(amount);
            let Some(index) = self.counter_index(name) else {
                let message = format!(
                    "`counts` on counter \"{name}\", which is not declared (declared: {}); add [counters.{name}]",
                    self.known_counters()
                );
                self.error(sp.path, pos, rid, message);
                continue;
            };
            match u64::try_from(*amount.get_ref()) {
                Ok(n) if (1..=u64::from(u32::MAX)).contains(&n) => counts.push((index, n)),
                _ => self.error(
                    sp.path,
                    pos,
                    rid,
                    format!("`counts.{name} = {}`: add a whole number from 1", amount.get_ref()),
                ),
            }
        }
        if !counts.is_empty() && def.mode == super::Mode::Shadow {
            let pos = def.id.as_ref().map_or(Position::default(), |s| sp.pos(s));
            self.warning(
                sp.path,
                pos,
                rid,
                "`counts` of a shadow rule are never added: shadow never changes any answer",
            );
        }
        counts
    }

    /// The rule's id, when it has one that no earlier rule took.
    fn claim_id(&mut self, sp: &SourcePack<'_>, spanned: &Spanned<RuleDef>) -> Option<String> {
        let def = spanned.get_ref();
        let rule_pos = sp.pos(spanned);
        let Some(id) = def.id.as_ref().map(|id| id.get_ref().trim().to_owned()).filter(|id| !id.is_empty()) else {
            self.error(sp.path, rule_pos, None, "rule has no `id`");
            return None;
        };
        if let Some((first_file, first_pos)) = self.rule_ids.get(&id) {
            let message = format!("duplicate rule id (first defined at {}:{})", first_file.display(), first_pos.line);
            let pos = def.id.as_ref().map_or(rule_pos, |s| sp.pos(s));
            self.error(sp.path, pos, Some(&id), message);
            return None;
        }
        self.rule_ids.insert(id.clone(), (sp.path.clone(), rule_pos));
        Some(id)
    }

    /// Keywords, inline then from named lists, normalized at the rule's level; an empty one is an
    /// error, a short substring or a repeat a warning, each at the line that wrote it.
    fn rule_keywords(&mut self, sp: &SourcePack<'_>, def: &RuleDef, rid: Option<&str>) -> Vec<RuleKeyword> {
        let level = def.normalize;
        let mut written = sp.entries(&def.keywords);
        for name in &def.lists {
            match self.lists.get(name.get_ref()) {
                Some((entries, _, _)) => written.extend(entries.iter().cloned()),
                None => {
                    let known = self.known_lists();
                    let message = format!("unknown list \"{}\" (known: {known})", name.get_ref());
                    self.error(sp.path, sp.pos(name), rid, message);
                }
            }
        }
        let mut seen = HashSet::new();
        let mut keywords = Vec::with_capacity(written.len());
        for entry in written {
            let (source, file, pos) = (&entry.keyword, &entry.file, entry.position);
            let normalized = normalize_keyword(level, source);
            if normalized.trim().is_empty() {
                let message = format!("keyword \"{source}\" is empty after `{}` normalization", level.name());
                self.error(file, pos, rid, message);
                continue;
            }
            if def.match_mode == MatchMode::Substring && normalized.chars().count() < SHORT_SUBSTRING_KEYWORD {
                let message = format!(
                    "keyword \"{source}\" is shorter than 3 characters in substring mode: it will hit inside many words"
                );
                self.warning(file, pos, rid, message);
            }
            if let Some(word) = collapses_into_common_word(level, source, &normalized) {
                let message = format!(
                    "keyword \"{source}\" becomes \"{normalized}\" at `strict`, the common word \"{word}\": it will hit \
                     every \"{word}\"; put it in a rule with normalize = \"standard\", or list phrases that stay \
                     distinct instead, such as \"{}\"",
                    distinct_suggestion(source)
                );
                self.warning(file, pos, rid, message);
            }
            if !seen.insert(normalized.clone()) {
                let message = format!("keyword \"{source}\" repeats (as \"{normalized}\" after normalization)");
                self.warning(file, pos, rid, message);
            }
            keywords.push(RuleKeyword { source: entry.keyword, normalized });
        }
        keywords
    }

    /// Each regex parsed (for the level's prefilter) and checked as the `regex` crate will
    /// compile it on first use: its syntax, and the size of its forward automaton against the
    /// same limit. Checking builds no `Regex`: 300 of them would double a big pack's peak.
    fn rule_regexes(&mut self, sp: &SourcePack<'_>, def: &RuleDef, rid: Option<&str>) -> Vec<(String, Hir)> {
        let mut regexes = Vec::new();
        for r in &def.regex {
            let pattern = r.get_ref();
            let pos = sp.pos(r);
            let hir = match regex_syntax::Parser::new().parse(pattern) {
                Ok(hir) => hir,
                Err(_) => {
                    // The `regex` crate's own message (it fails at parsing, so at once).
                    let message = match RegexBuilder::new(pattern).build() {
                        Err(e) => one_line(&e.to_string()),
                        Ok(_) => "does not parse".to_owned(),
                    };
                    self.error(sp.path, pos, rid, format!("invalid regex '{pattern}': {message}"));
                    continue;
                }
            };
            let config = thompson::Config::new().nfa_size_limit(Some(REGEX_SIZE_LIMIT)).shrink(false);
            if thompson::Compiler::new().configure(config).build_from_hir(&hir).is_err() {
                let message = format!("regex '{pattern}' is too large (compiled size over {REGEX_SIZE_LIMIT} bytes)");
                self.error(sp.path, pos, rid, message);
                continue;
            }
            if hir.properties().minimum_len() == Some(0) {
                self.warning(sp.path, pos, rid, format!("regex '{pattern}' can match the empty string"));
            }
            regexes.push((pattern.to_owned(), hir));
        }
        regexes
    }

    /// `except` phrases normalized at the rule's level (with their spaceless form at `strict`).
    fn rule_except(&mut self, sp: &SourcePack<'_>, def: &RuleDef, rid: Option<&str>) -> Vec<String> {
        let level = def.normalize;
        let mut except = Vec::new();
        for phrase in &def.except {
            let normalized = normalize_keyword(level, phrase.get_ref());
            if normalized.trim().is_empty() {
                self.error(sp.path, sp.pos(phrase), rid, "`except` phrase is empty after normalization");
                continue;
            }
            except.extend(spaceless_variant(level, &normalized));
            except.push(normalized);
        }
        except
    }

    /// Adds a checked rule's keywords (with their forms and strict variants) and regexes to its
    /// level.
    fn add_patterns(&mut self, def: &RuleDef, rule_index: u32, keywords: &[RuleKeyword], regexes: Vec<(String, Hir)>) {
        let level = def.normalize;
        let builder = self.levels.entry(level).or_insert_with(|| LevelBuilder::new(level));
        for k in keywords {
            if let Some(joined) = spaceless_variant(level, &k.normalized) {
                builder.add_keyword(joined, rule_index, def.match_mode, &k.source);
            }
            builder.add_keyword(k.normalized.clone(), rule_index, def.match_mode, &k.source);
        }
        // Each keyword with its inflections (`forms = "en"`, word mode): the words variants and
        // masked words are made from.
        let written: Vec<(&str, String)> = keywords
            .iter()
            .flat_map(|k| {
                let forms = if def.forms == Some(Forms::En) && def.match_mode == MatchMode::Word {
                    english_forms(&k.source)
                } else {
                    Vec::new()
                };
                std::iter::once((k.source.as_str(), k.source.clone()))
                    .chain(forms.into_iter().map(|f| (k.source.as_str(), f)))
            })
            .collect();
        for (source, form) in written.iter().filter(|(source, form)| source != form) {
            builder.add_keyword(normalize_keyword(level, form), rule_index, def.match_mode, source);
        }
        // After every keyword, so a keyword the rule lists itself (`fck`) is explained as that
        // keyword, not as a variant of another (`fuck`).
        if level == Level::Strict && def.match_mode == MatchMode::Word {
            for (source, form) in &written {
                for variant in strict_variants(form) {
                    builder.add_variant(variant.text, rule_index, def.match_mode, source, variant.censored);
                }
                builder.add_masked(rule_index, form, &normalize_keyword(level, form));
            }
        }
        for (source, hir) in regexes {
            builder.add_regex(&source, &hir, rule_index);
            self.regex_count += 1;
        }
    }

    fn compile_condition(
        &mut self,
        sp: &SourcePack<'_>,
        pos: Position,
        rule: Option<&str>,
        which: &str,
        c: &Conditions,
    ) -> Condition {
        let file = sp.path;
        let mut clauses = Vec::new();
        let mut state = Vec::new();
        for (key, spanned) in c {
            let value = spanned.get_ref();
            let Some(condition) = ConditionKey::of(key) else {
                let known = ConditionKey::names().join(", ");
                self.error(file, pos, rule, format!("unknown condition key `{which}.{key}` (known: {known})"));
                continue;
            };
            match (condition, value) {
                (ConditionKey::Attribute(attribute, Test::OneOf), CondValue::One(s)) => {
                    clauses.push(Clause::AnyOf(attribute, vec![s.clone()]))
                }
                (ConditionKey::Attribute(attribute, Test::OneOf), CondValue::Any(list)) => {
                    clauses.push(Clause::AnyOf(attribute, list.clone()))
                }
                (ConditionKey::Attribute(_, Test::OneOf), CondValue::Bool(_)) => self.error(
                    file,
                    pos,
                    rule,
                    format!("`{which}.{key}` takes a string or a list of strings, not a bool"),
                ),
                (ConditionKey::Attribute(attribute, _), CondValue::Bool(b)) => {
                    clauses.push(Clause::Present(attribute, *b))
                }
                (ConditionKey::HasAttachments, CondValue::Bool(b)) => clauses.push(Clause::HasAttachments(*b)),
                (ConditionKey::HasAttachments | ConditionKey::Attribute(..), _) => {
                    self.error(file, pos, rule, format!("`{which}.{key}` takes true or false"))
                }
                (counted, value) => {
                    let at = sp.pos(spanned);
                    match self.counted_clause(counted, &format!("{which}.{key}"), value) {
                        Ok(Counted::Message(c)) => clauses.push(c),
                        Ok(Counted::State(c)) => state.extend(c),
                        Err(message) => self.error(file, at, rule, message),
                    }
                }
            }
        }
        Condition { clauses, state }
    }

    /// A condition on a count: `mentions`, `links`, `counter`, `sender_age`, `sender_messages`.
    fn counted_clause(&self, key: ConditionKey, name: &str, value: &CondValue) -> Result<Counted, String> {
        let CondValue::Table(table) = value else {
            let example = if key == ConditionKey::Counter { "{ NAME = { at_least = 3 } }" } else { "{ at_least = 5 }" };
            return Err(format!("`{name}` takes a table such as {example}"));
        };
        Ok(match key {
            ConditionKey::Mentions => Counted::Message(Clause::Mentions(stateful::bound(name, table, false)?)),
            ConditionKey::Links => Counted::Message(Clause::Links(stateful::bound(name, table, false)?)),
            ConditionKey::SenderAge => {
                Counted::State(vec![StateClause::SenderAge(stateful::bound(name, table, true)?)])
            }
            ConditionKey::SenderMessages => {
                Counted::State(vec![StateClause::SenderMessages(stateful::bound(name, table, false)?)])
            }
            _ => {
                let mut out = Vec::new();
                for (counter, bounds) in table {
                    let Some(index) = self.counter_index(counter) else {
                        return Err(format!(
                            "`{name}`: unknown counter \"{counter}\" (declared: {})",
                            self.known_counters()
                        ));
                    };
                    let toml::Value::Table(bounds) = bounds else {
                        return Err(format!("`{name}.{counter}` takes a table such as {{ at_least = 3 }}"));
                    };
                    out.push(StateClause::Counter(
                        index,
                        stateful::bound(&format!("{name}.{counter}"), bounds, false)?,
                    ));
                }
                if out.is_empty() {
                    return Err(format!("`{name}` names no counter"));
                }
                Counted::State(out)
            }
        })
    }

    fn known_lists(&self) -> String {
        let mut names: Vec<&str> = self.lists.keys().map(String::as_str).collect();
        names.sort_unstable();
        if names.is_empty() { "none".to_owned() } else { names.join(", ") }
    }

    fn error_count(&self) -> usize {
        self.diags.iter().filter(|d| d.is_error()).count()
    }

    fn finish(mut self, files: Vec<PathBuf>) -> Result<Loaded, LoadError> {
        // Only the checks of the rules needed these; freed before the automata are built.
        self.lists = HashMap::new();
        self.rule_ids = HashMap::new();
        let mut levels = Vec::new();
        for (level, builder) in std::mem::take(&mut self.levels) {
            match builder.build() {
                Ok(mut m) => {
                    m.fields = Field::ALL
                        .into_iter()
                        .filter(|f| self.rules.iter().any(|r| r.level == level && r.reads(*f)))
                        .collect();
                    levels.push(m)
                }
                Err(message) => {
                    let at = files.first().cloned().unwrap_or_default();
                    self.error(&at, Position::default(), None, format!("{message} (level {})", level.name()));
                }
            }
        }
        if self.error_count() > 0 {
            self.diags.sort_by_key(|d| !d.is_error());
            return Err(LoadError(self.diags));
        }
        let keyword_count = levels.iter().map(|l| l.keyword_pattern_count()).sum();
        let stateful = self.rules.iter().any(Rule::uses_state);
        let patternless = self.rules.iter().any(|r| !r.has_patterns);
        let ruleset = Ruleset {
            hash: self.hasher.short(),
            rules: self.rules,
            levels,
            drop_score: self.drop_score,
            cases: self.cases,
            files,
            keyword_count,
            regex_count: self.regex_count,
            loaded_at: SystemTime::now(),
            patternless,
            counters: self.counters,
            stateful,
        };
        Ok(Loaded { ruleset, warnings: self.diags })
    }
}

/// At `strict`, the common word a keyword turns into when strict collapses its repeated letters
/// (`ass` → `as`, `butt` → `but`), if it does: the keyword would hit that word everywhere.
fn collapses_into_common_word(level: Level, source: &str, normalized: &str) -> Option<String> {
    if level != Level::Strict || normalized.contains(' ') {
        return None;
    }
    let changed = normalize_keyword(Level::Standard, source) != normalized;
    (changed && is_collapse_target(normalized)).then(|| normalized.to_owned())
}

/// What to list instead of a keyword that collapses into a common word: a phrase with it (`your
/// ass`), which the common word alone does not make.
fn distinct_suggestion(source: &str) -> String {
    format!("your {source}")
}

/// A compiled condition on a count: the message's own, or read from state.
enum Counted {
    Message(Clause),
    State(Vec<StateClause>),
}

/// A `[[case]]` sequence's `at`: a duration from the first message; `"0s"` is the start.
fn parse_offset(text: &str) -> Result<u64, String> {
    if text.trim().trim_end_matches(|c: char| c.is_ascii_alphabetic()) == "0" {
        return Ok(0);
    }
    crate::time::parse_duration_ms(text)
}

/// At `strict`, a multi-word keyword also matches with its spaces removed, because strict
/// normalization joins spaced-out letters (`f r e e m o n e y` → `freemoney`).
/// The joined form is normalized again so letter runs meeting at the join collapse as they do
/// in text (`big gun` → `bigun`, like `b i g g u n`).
fn spaceless_variant(level: Level, normalized: &str) -> Option<String> {
    (level == Level::Strict && normalized.contains(' ')).then(|| normalize_keyword(level, &normalized.replace(' ', "")))
}

/// The `*.toml` files under `dir`, recursively, sorted by path. Names starting with `.` are
/// skipped: editors' swap files, and the `..data` / `..<timestamp>` folders of a Kubernetes
/// ConfigMap mount, whose files are also linked at the top level.
fn find_packs(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(folder) = stack.pop() {
        for entry in std::fs::read_dir(&folder)? {
            let path = entry?.path();
            let hidden = path.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.'));
            if hidden {
                continue;
            }
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "toml") && path.is_file() {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// The `id` of the `[[rule]]` that encloses byte `offset`, read from the raw text, so a TOML
/// error inside a rule (such as an unknown key) can still name it.
fn rule_id_before(text: &str, offset: usize) -> Option<String> {
    let before = text.get(..offset)?;
    let table_start = before.rfind("[[rule]]")?;
    if before.get(table_start..)?.lines().skip(1).any(|l| l.trim_start().starts_with('[')) {
        return None;
    }
    let id_line =
        text.get(table_start..)?.lines().skip(1).take_while(|l| !l.trim_start().starts_with('[')).find(|l| {
            let l = l.trim_start();
            l.starts_with("id ") || l.starts_with("id=")
        })?;
    let value = id_line.split_once('=')?.1.trim();
    Some(value.trim_matches(|c| c == '"' || c == '\'').to_owned())
}

fn one_line(s: &str) -> String {
    s.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ")
}

/// FNV-1a, 64-bit: a stable content hash (the std hasher may change between Rust releases).
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv::new()
    }
}

impl Fnv {
    fn new() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }

    fn add(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
        // A separator, so ("ab","c") and ("a","bc") differ.
        self.0 ^= 0xff;
        self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
    }

    fn short(&self) -> String {
        format!("{:08x}", (self.0 >> 32) ^ (self.0 & 0xffff_ffff))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(rules: &str) -> Ruleset {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("r.toml"), rules).expect("write rules");
        load_dir(dir.path()).expect("rules load").ruleset
    }

    fn hits(ruleset: &Ruleset, text: &str) -> Vec<(String, String)> {
        ruleset.rule_hits_in("r", text).into_iter().map(|s| (s.text, s.pattern.to_owned())).collect()
    }

    #[test]
    fn variants_belong_to_their_keyword_and_word_mode_strict_rules_only() {
        let strict = load("[[rule]]\nid = \"r\"\nkeywords = [\"fuck\", \"fck\"]\nnormalize = \"strict\"\n");
        // `fck` is the rule's own keyword and keeps explaining itself; `f*ck` matches it too.
        assert_eq!(hits(&strict, "fck"), [("fck".to_owned(), "fck".to_owned())]);
        assert_eq!(hits(&strict, "fu ck you"), [("fu ck".to_owned(), "fuck".to_owned())]);
        assert_eq!(hits(&strict, "fvck"), [("fvck".to_owned(), "fuck".to_owned())]);
        for other in ["match = \"prefix\"\nnormalize = \"strict\"", "normalize = \"standard\""] {
            let ruleset = load(&format!("[[rule]]\nid = \"r\"\nkeywords = [\"fuck\"]\n{other}\n"));
            assert!(hits(&ruleset, "fu ck, fvck, f*ck").is_empty(), "{other}");
        }
    }

    #[test]
    fn a_shortened_variant_needs_the_symbol_that_shortened_it() {
        let ruleset = load("[[rule]]\nid = \"r\"\nkeywords = [\"cunt\", \"bitch\"]\nnormalize = \"strict\"\n");
        assert_eq!(hits(&ruleset, "what a c*nt"), [("c*nt".to_owned(), "cunt".to_owned())]);
        assert_eq!(hits(&ruleset, "b!tch please"), [("b!tch".to_owned(), "bitch".to_owned())]);
        // The same letters typed plainly are shorthand ("can't"), not an evasion.
        assert!(hits(&ruleset, "sry I cnt make it, btch").is_empty());
    }
}
