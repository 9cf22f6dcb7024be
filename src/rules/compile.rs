//! Rule files → `Ruleset`, or every diagnostic at once.
//!
//! The whole folder is read, parsed and validated in one pass that collects all errors before
//! refusing; only a fully valid folder becomes a `Ruleset`. `inflight check`, `inflight test`,
//! the server's start and every reload go through `load_dir`, so what `check` accepts is exactly
//! what would serve.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use regex::{Regex, RegexBuilder};
use regex_syntax::hir::Hir;
use toml::Spanned;

use super::matcher::LevelBuilder;
use super::model::{CondValue, Conditions, Field, ListDef, MatchMode, PackFile, RuleDef};
use super::normalize::{Level, normalize_keyword};
use super::variants::strict_variants;
use super::{Case, Clause, Condition, Example, Rule, Ruleset};
use crate::error::{Diagnostic, LineIndex, LoadError, Position};
use crate::message::{ConditionKey, Test};

/// Compiled size limit of one regex: a pathological pattern is refused at load instead of
/// eating memory (Discord AutoMod allows 260 characters; this is far above any sane pattern).
const REGEX_SIZE_LIMIT: usize = 2 << 20;
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
    for pack in &packs {
        compiler.compile_pack(pack);
    }
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
    file: PathBuf,
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
                    ListDef::Inline(items) => items
                        .iter()
                        .map(|k| ListEntry { keyword: k.get_ref().clone(), file: sp.path.clone(), position: sp.pos(k) })
                        .collect(),
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
                text.lines()
                    .enumerate()
                    .map(|(i, line)| (i, line.trim()))
                    .filter(|(_, line)| !line.is_empty() && !line.starts_with('#'))
                    .map(|(i, line)| ListEntry {
                        keyword: line.to_owned(),
                        file: path.clone(),
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

    fn compile_pack(&mut self, sp: &SourcePack<'_>) {
        let pack_name = sp.name();
        for def in &sp.pack.rules {
            self.compile_rule(sp, &pack_name, def);
        }
        for case in &sp.pack.cases {
            let c = case.get_ref();
            self.cases.push(Case {
                name: c.name.clone(),
                message: c.message.0.clone(),
                expect: c.expect.clone(),
                file: sp.path.clone(),
                position: sp.pos(case),
            });
        }
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
        if def.keywords.is_empty() && def.lists.is_empty() && def.regex.is_empty() {
            self.error(file, rule_pos, rid, "rule has nothing to match: give `keywords`, `lists` or `regex`");
        }
        let fields = def.fields.clone().unwrap_or_else(|| vec![Field::Text]);
        if fields.is_empty() {
            self.error(file, rule_pos, rid, "`fields` is empty: the rule would read nothing");
        }
        let when = def.when.as_ref().map(|c| self.compile_condition(file, sp.pos(c), rid, "when", c.get_ref()));
        let unless = def.unless.as_ref().map(|c| self.compile_condition(file, sp.pos(c), rid, "unless", c.get_ref()));
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
            unless: unless.filter(|c| !c.clauses.is_empty()),
            except,
            examples_match: to_examples(examples.map(|e| &e.should_match)),
            examples_no_match: to_examples(examples.map(|e| &e.no_match)),
            file: file.clone(),
            position: rule_pos,
        });
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
        let mut written: Vec<ListEntry> = def
            .keywords
            .iter()
            .map(|k| ListEntry { keyword: k.get_ref().clone(), file: sp.path.clone(), position: sp.pos(k) })
            .collect();
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
            if !seen.insert(normalized.clone()) {
                let message = format!("keyword \"{source}\" repeats (as \"{normalized}\" after normalization)");
                self.warning(file, pos, rid, message);
            }
            keywords.push(RuleKeyword { source: entry.keyword, normalized });
        }
        keywords
    }

    /// Each regex compiled alone (for spans) and parsed for the level's prefilter.
    fn rule_regexes(&mut self, sp: &SourcePack<'_>, def: &RuleDef, rid: Option<&str>) -> Vec<(Regex, Hir)> {
        let mut regexes = Vec::new();
        for r in &def.regex {
            let pattern = r.get_ref();
            let pos = sp.pos(r);
            let compiled = RegexBuilder::new(pattern).size_limit(REGEX_SIZE_LIMIT).build();
            let hir = regex_syntax::Parser::new().parse(pattern);
            match (compiled, hir) {
                (Ok(regex), Ok(hir)) => {
                    if regex.is_match("") {
                        self.warning(sp.path, pos, rid, format!("regex '{pattern}' can match the empty string"));
                    }
                    regexes.push((regex, hir));
                }
                (Err(e), _) => {
                    let message = match e {
                        regex::Error::CompiledTooBig(limit) => {
                            format!("regex '{pattern}' is too large (compiled size over {limit} bytes)")
                        }
                        other => format!("invalid regex '{pattern}': {}", one_line(&other.to_string())),
                    };
                    self.error(sp.path, pos, rid, message);
                }
                (Ok(_), Err(e)) => self.error(sp.path, pos, rid, format!("invalid regex '{pattern}': {e}")),
            }
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

    /// Adds a checked rule's keywords (and their strict variants) and regexes to its level.
    fn add_patterns(&mut self, def: &RuleDef, rule_index: u32, keywords: &[RuleKeyword], regexes: Vec<(Regex, Hir)>) {
        let level = def.normalize;
        let builder = self.levels.entry(level).or_insert_with(|| LevelBuilder::new(level));
        for k in keywords {
            if let Some(joined) = spaceless_variant(level, &k.normalized) {
                builder.add_keyword(joined, rule_index, def.match_mode, &k.source);
            }
            builder.add_keyword(k.normalized.clone(), rule_index, def.match_mode, &k.source);
        }
        // After every keyword, so a keyword the rule lists itself (`fck`) is explained as that
        // keyword, not as a variant of another (`fuck`).
        if level == Level::Strict && def.match_mode == MatchMode::Word {
            for k in keywords {
                for variant in strict_variants(&k.source) {
                    builder.add_variant(variant.text, rule_index, def.match_mode, &k.source, variant.censored);
                }
            }
        }
        for (regex, hir) in regexes {
            builder.add_regex(regex, &hir, rule_index);
            self.regex_count += 1;
        }
    }

    fn compile_condition(
        &mut self,
        file: &Path,
        pos: Position,
        rule: Option<&str>,
        which: &str,
        c: &Conditions,
    ) -> Condition {
        let mut clauses = Vec::new();
        for (key, value) in c {
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
                (_, _) => self.error(file, pos, rule, format!("`{which}.{key}` takes true or false")),
            }
        }
        Condition { clauses }
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
        };
        Ok(Loaded { ruleset, warnings: self.diags })
    }
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
