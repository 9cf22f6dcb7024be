//! The deterministic benchmark corpus: rule packs of 500, 5,000 and 50,000 keywords plus 300
//! regexes, and 10,000 chat messages, all generated from one fixed seed.
//!
//! Shared by the criterion benches (`benches/engine.rs`) and by `examples/gen_corpus.rs`, which
//! writes the same corpus to a folder for `inflight bench` / `replay`. Everything here is a pure
//! function of [`SEED`]: the same corpus on every machine, so figures can be compared across
//! commits. No `rand`: a splitmix64 generator is all the randomness a corpus needs.

// Each user of this module (a bench, an example) calls only part of it.
#![allow(dead_code)]

use std::collections::HashSet;
use std::fmt::Write as _;
use std::io;
use std::path::Path;

/// The seed every part of the corpus derives from.
pub const SEED: u64 = 0x1f1e_2024_c0de_5eed;

/// The rule folders: name and keyword count.
pub const SIZES: [(&str, usize); 3] = [("rules-500", 500), ("rules-5k", 5_000), ("rules-50k", 50_000)];

pub const MESSAGE_COUNT: usize = 10_000;

/// How many regexes every rule folder holds, whatever its keyword count.
pub const REGEX_COUNT: usize = 300;

/// Messages that embed a keyword take it from the first `HIT_KEYWORDS`, which every size holds,
/// so each folder sees the same hits.
const HIT_KEYWORDS: usize = 500;

/// splitmix64 (Steele, Lea, Flood 2014): tiny, fast, and good enough for test data.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator for one part of the corpus: parts draw from separate streams, so changing one
    /// part does not shift the others.
    pub fn new(stream: u64) -> Self {
        Rng(SEED ^ stream.wrapping_mul(0x9e37_79b9_7f4a_7c15))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`); the modulo bias is irrelevant at these sizes.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `percent` / 100.
    pub fn percent(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

// ---- keywords ----

const ONSETS: [&str; 26] = [
    "b", "br", "d", "dr", "f", "fl", "g", "gr", "k", "kr", "l", "m", "n", "p", "pl", "r", "s", "sk", "st", "t", "tr",
    "v", "z", "zh", "x", "q",
];
const VOWELS: [&str; 8] = ["a", "e", "i", "o", "u", "ai", "ou", "y"];
const CODAS: [&str; 9] = ["", "", "n", "r", "k", "s", "x", "th", "l"];

fn syllable(rng: &mut Rng) -> String {
    format!("{}{}{}", rng.pick(&ONSETS), rng.pick(&VOWELS), rng.pick(&CODAS))
}

/// The first `n` keywords of the corpus: made-up but word-like tokens (three syllables, so they
/// do not collide with real words by accident), one in five a two-word phrase. Distinct, and a
/// prefix of every longer list: `keywords(500)` is the start of `keywords(50_000)`.
pub fn keywords(n: usize) -> Vec<String> {
    let mut rng = Rng::new(1);
    let mut seen = HashSet::with_capacity(n);
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let keyword = if rng.percent(20) {
            format!("{}{} {}{}", syllable(&mut rng), syllable(&mut rng), syllable(&mut rng), syllable(&mut rng))
        } else {
            format!("{}{}{}", syllable(&mut rng), syllable(&mut rng), syllable(&mut rng))
        };
        if keyword.len() >= 5 && seen.insert(keyword.clone()) {
            out.push(keyword);
        }
    }
    out
}

// ---- regexes ----

/// One regex and the kind of rule it belongs to.
#[derive(Debug, Clone)]
pub struct RegexSpec {
    pub category: Category,
    pub pattern: String,
}

/// The kinds of regex rules real packs hold. Each becomes a few rules of one pack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    SpamPhrase,
    Shortener,
    SuspiciousTld,
    Email,
    Phone,
    Card,
    Repeated,
    Obfuscated,
    Secret,
    Invite,
}

impl Category {
    pub const ALL: [Category; 10] = [
        Category::SpamPhrase,
        Category::Shortener,
        Category::SuspiciousTld,
        Category::Email,
        Category::Phone,
        Category::Card,
        Category::Repeated,
        Category::Obfuscated,
        Category::Secret,
        Category::Invite,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Category::SpamPhrase => "spam-phrase",
            Category::Shortener => "shortener",
            Category::SuspiciousTld => "suspicious-tld",
            Category::Email => "email",
            Category::Phone => "phone",
            Category::Card => "card",
            Category::Repeated => "repeated",
            Category::Obfuscated => "obfuscated",
            Category::Secret => "secret",
            Category::Invite => "invite",
        }
    }

    /// The pack file the category's rules go to.
    fn pack(self) -> &'static str {
        match self {
            Category::SpamPhrase | Category::Repeated | Category::Obfuscated => "re-spam",
            Category::Shortener | Category::SuspiciousTld | Category::Invite => "re-links",
            Category::Email | Category::Phone | Category::Card => "re-pii",
            Category::Secret => "re-secrets",
        }
    }
}

const SPAM_VERBS: [&str; 10] =
    ["click", "tap", "claim", "grab", "collect", "redeem", "unlock", "activate", "win", "double"];
const SPAM_OBJECTS: [&str; 12] = [
    "your prize",
    "your reward",
    "your bonus",
    "free spins",
    "a gift card",
    "a free iphone",
    "your voucher",
    "the cash prize",
    "your winnings",
    "the bonus code",
    "your free trial",
    "the jackpot",
];
const SHORTENERS: [&str; 30] = [
    "bit.ly",
    "tinyurl.com",
    "t.co",
    "goo.gl",
    "ow.ly",
    "is.gd",
    "buff.ly",
    "rebrand.ly",
    "cutt.ly",
    "shorturl.at",
    "tiny.cc",
    "rb.gy",
    "bl.ink",
    "lnkd.in",
    "t.ly",
    "v.gd",
    "s.id",
    "shorte.st",
    "adf.ly",
    "bc.vc",
    "ouo.io",
    "clck.ru",
    "qr.ae",
    "tr.im",
    "x.co",
    "mcaf.ee",
    "su.pr",
    "po.st",
    "soo.gd",
    "urlz.fr",
];
const TLDS: [&str; 20] = [
    "xyz", "top", "click", "loan", "work", "gq", "tk", "ml", "cf", "ga", "buzz", "rest", "fit", "cam", "bar", "icu",
    "monster", "cyou", "sbs", "quest",
];
const OBFUSCATED: [&str; 30] = [
    "free",
    "viagra",
    "cialis",
    "casino",
    "crypto",
    "bitcoin",
    "lottery",
    "jackpot",
    "payday",
    "xanax",
    "onlyfans",
    "nudes",
    "escort",
    "forex",
    "airdrop",
    "giveaway",
    "freebie",
    "cashapp",
    "webcam",
    "hookup",
    "sugardaddy",
    "betting",
    "poker",
    "slots",
    "loans",
    "porn",
    "winner",
    "prize",
    "bonus",
    "refund",
];

/// Leetspeak classes a pattern author writes by hand to catch `c4s1n0` style spellings.
fn leet_class(c: char) -> String {
    match c {
        'a' => "[a@4]".into(),
        'e' => "[e3]".into(),
        'i' => "[i1!|]".into(),
        'o' => "[o0]".into(),
        's' => "[s5$]".into(),
        't' => "[t7]".into(),
        _ => c.to_string(),
    }
}

/// The 300 regexes of every rule folder, written the way operators write them for `basic`
/// (lowercase, since `basic` case-folds; `\b` boundaries; no backreferences).
pub fn regexes() -> Vec<RegexSpec> {
    let mut out = Vec::new();
    let mut add = |category: Category, pattern: String| out.push(RegexSpec { category, pattern });
    // 60 spam phrases: verb + bait object, any whitespace between words.
    let mut n = 0;
    'phrases: for (i, verb) in SPAM_VERBS.iter().enumerate() {
        for j in 0..6 {
            let object = SPAM_OBJECTS[(i + j * 2) % SPAM_OBJECTS.len()];
            add(Category::SpamPhrase, format!(r"\b{verb}\s+{}\b", object.replace(' ', r"\s+")));
            n += 1;
            if n == 60 {
                break 'phrases;
            }
        }
    }
    // 10 classic spam lines.
    for pattern in [
        r"\bact\s+now\b",
        r"\blimited\s+time\s+offer\b",
        r"\bwork\s+from\s+home\s+and\s+earn\b",
        r"\bearn\s+\$?\d+k?\s+(a|per)\s+(day|week)\b",
        r"\b100\s*%\s+(free|guaranteed)\b",
        r"\bno\s+credit\s+check\b",
        r"\bcongratulations,?\s+you\s+(have\s+)?won\b",
        r"\byou\s+have\s+been\s+selected\b",
        r"\brisk[\s-]free\b",
        r"\bbuy\s+(cheap\s+)?(followers|likes|views)\b",
    ] {
        add(Category::SpamPhrase, pattern.to_owned());
    }
    // 30 URL shorteners with a path.
    for domain in SHORTENERS {
        add(Category::Shortener, format!(r"\b{}/[a-z0-9_-]{{4,}}", domain.replace('.', r"\.")));
    }
    // 20 suspicious TLDs.
    for tld in TLDS {
        add(Category::SuspiciousTld, format!(r"\b[a-z0-9-]+\.{tld}\b"));
    }
    // 10 e-mail address shapes.
    for pattern in [
        r"\b[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}\b",
        r"\b[a-z0-9._%+-]+@gmail\.com\b",
        r"\b[a-z0-9._%+-]+@(yahoo|ymail)\.[a-z.]{2,6}\b",
        r"\b[a-z0-9._%+-]+@(hotmail|outlook|live)\.[a-z.]{2,6}\b",
        r"\b[a-z0-9._%+-]+@proton(mail)?\.(me|com)\b",
        r"\b[a-z0-9._%+-]+@icloud\.com\b",
        r"\b[a-z0-9._%+-]+@(mail|yandex)\.ru\b",
        r"\b[a-z0-9._%+-]+\s*(@|\(at\)|\[at\])\s*[a-z0-9-]+\s*(\.|\(dot\)|\[dot\])\s*(com|net|org)\b",
        r"\bmail\s+me\s+at\s+\S+@\S+",
        r"\bcontact\s*:\s*[a-z0-9._%+-]+@[a-z0-9.-]+\b",
    ] {
        add(Category::Email, pattern.to_owned());
    }
    // 20 phone numbers: North American shapes and international prefixes.
    for pattern in [
        r"\b\d{3}[-. ]\d{3}[-. ]\d{4}\b",
        r"\(\d{3}\)\s*\d{3}[-. ]?\d{4}\b",
        r"\b1[-. ]?\d{3}[-. ]\d{3}[-. ]\d{4}\b",
        r"\bcall\s+(me\s+)?(at\s+|on\s+)?\+?\d[\d\s.-]{7,}\d",
        r"\b(text|whatsapp|sms)\s+(me\s+)?(at\s+|on\s+)?\+?\d[\d\s.-]{7,}\d",
    ] {
        add(Category::Phone, pattern.to_owned());
    }
    for cc in ["44", "33", "49", "34", "39", "31", "7", "91", "86", "81", "55", "52", "61", "234", "63"] {
        add(Category::Phone, format!(r"\+{cc}[\s.-]?\d{{2,4}}[\s.-]?\d{{3,4}}[\s.-]?\d{{3,4}}\b"));
    }
    // 10 card and bank numbers.
    for pattern in [
        r"\b4\d{3}[ -]?\d{4}[ -]?\d{4}[ -]?\d{4}\b",
        r"\b5[1-5]\d{2}[ -]?\d{4}[ -]?\d{4}[ -]?\d{4}\b",
        r"\b3[47]\d{2}[ -]?\d{6}[ -]?\d{5}\b",
        r"\b6(011|5\d{2})[ -]?\d{4}[ -]?\d{4}[ -]?\d{4}\b",
        r"\b(cvv|cvc)\s*:?\s*\d{3,4}\b",
        r"\bexp(iry|ires)?\s*:?\s*(0[1-9]|1[0-2])\s*/\s*\d{2}\b",
        r"\b[a-z]{2}\d{2}\s?(\d{4}\s?){4,7}\d{1,4}\b",
        r"\brouting\s*(number|no|#)?\s*:?\s*\d{9}\b",
        r"\b\d{3}-\d{2}-\d{4}\b",
        r"\bssn\s*:?\s*\d{3}\s*-?\s*\d{2}\s*-?\s*\d{4}\b",
    ] {
        add(Category::Card, pattern.to_owned());
    }
    // 20 repeated characters (no backreferences in Rust regex: one alternative per character).
    add(Category::Repeated, r"[!?]{5,}".to_owned());
    add(Category::Repeated, r"[.]{8,}".to_owned());
    add(Category::Repeated, r"[$€£]{3,}".to_owned());
    add(Category::Repeated, r"(😂){4,}".to_owned());
    for chunk in ["abcd", "efgh", "ijkl", "mnop", "qrst", "uvwx", "yz01", "2345", "6789"] {
        let alternatives: Vec<String> = chunk.chars().map(|c| format!("{c}{c}{c}{c}{c}{c}+")).collect();
        add(Category::Repeated, format!("({})", alternatives.join("|")));
    }
    for word in ["lol", "haha", "omg", "wtf", "plz", "ugh", "hehe"] {
        add(Category::Repeated, format!(r"\b({word}){{4,}}\b"));
    }
    // 60 obfuscated spam words: separators between letters, and leetspeak classes.
    for word in OBFUSCATED {
        let letters: Vec<String> = word.chars().map(|c| c.to_string()).collect();
        add(Category::Obfuscated, format!(r"\b{}\b", letters.join(r"\W*")));
        let leet: Vec<String> = word.chars().map(leet_class).collect();
        add(Category::Obfuscated, format!(r"\b{}\b", leet.join(r"[\W_]*")));
    }
    // 30 API keys and secrets (lowercase: `basic` folds the text before regexes see it).
    for pattern in [
        r"\bsk_live_[0-9a-z]{24}\b",
        r"\bsk_test_[0-9a-z]{24}\b",
        r"\brk_live_[0-9a-z]{24}\b",
        r"\bpk_live_[0-9a-z]{24}\b",
        r"\bakia[0-9a-z]{16}\b",
        r"\basia[0-9a-z]{16}\b",
        r"\baws_secret_access_key\s*=\s*[0-9a-z/+]{40}\b",
        r"\bghp_[0-9a-z]{36}\b",
        r"\bgho_[0-9a-z]{36}\b",
        r"\bghs_[0-9a-z]{36}\b",
        r"\bgithub_pat_[0-9a-z_]{82}\b",
        r"\bglpat-[0-9a-z_-]{20}\b",
        r"\bxox[baprs]-[0-9a-z-]{10,48}\b",
        r"\bhooks\.slack\.com/services/t[0-9a-z]{8}/b[0-9a-z]{8}/[0-9a-z]{24}\b",
        r"\baiza[0-9a-z_-]{35}\b",
        r"\bya29\.[0-9a-z_-]{20,}\b",
        r"-----begin (rsa |ec |openssh |dsa )?private key-----",
        r"\bsg\.[0-9a-z_-]{22}\.[0-9a-z_-]{43}\b",
        r"\bsk-[0-9a-z]{48}\b",
        r"\bsk-proj-[0-9a-z_-]{40,}\b",
        r"\bnpm_[0-9a-z]{36}\b",
        r"\bpypi-[0-9a-z_-]{50,}\b",
        r"\bdop_v1_[0-9a-f]{64}\b",
        r"\bshpat_[0-9a-f]{32}\b",
        r"\bsq0atp-[0-9a-z_-]{22}\b",
        r"\bac[0-9a-f]{32}\b",
        r"\beyj[0-9a-z_-]{10,}\.eyj[0-9a-z_-]{10,}\.[0-9a-z_-]{10,}\b",
        r"\b(password|passwd|pwd)\s*[:=]\s*\S{6,}",
        r"\bmongodb(\+srv)?://[^\s:]+:[^\s@]+@",
        r"\bpostgres(ql)?://[^\s:]+:[^\s@]+@",
    ] {
        add(Category::Secret, pattern.to_owned());
    }
    // 30 chat invites, wallets and payment handles.
    for pattern in [
        r"\bdiscord\.gg/[a-z0-9]{2,}\b",
        r"\bdiscord(app)?\.com/invite/[a-z0-9-]{2,}\b",
        r"\bt\.me/[a-z0-9_]{5,}\b",
        r"\btelegram\.me/[a-z0-9_]{5,}\b",
        r"\bwa\.me/\d{6,}\b",
        r"\bchat\.whatsapp\.com/[a-z0-9]{10,}\b",
        r"\bjoin\s+my\s+(discord|telegram|whatsapp|server|channel)\b",
        r"\bdm\s+me\s+on\s+(telegram|whatsapp|insta|instagram|snap|snapchat)\b",
        r"\b(add|follow)\s+me\s+on\s+(snap|snapchat|insta|instagram|kik|telegram)\b",
        r"\bkik\s*(me|:)\s*[a-z0-9_.]{3,}\b",
        r"\bsnap(chat)?\s*:\s*[a-z0-9_.-]{3,}\b",
        r"\b(bc1|[13])[a-hj-np-z0-9]{25,39}\b",
        r"\b0x[a-f0-9]{40}\b",
        r"\bt[a-z0-9]{33}\b",
        r"\bcash\.app/\$[a-z0-9_]{2,}\b",
        r"\bpaypal\.me/[a-z0-9_]{2,}\b",
        r"\bvenmo\.com/(u/)?[a-z0-9_-]{2,}\b",
        r"\bonlyfans\.com/[a-z0-9_.]{2,}\b",
        r"\bpatreon\.com/[a-z0-9_]{2,}\b",
        r"\bsteamcommunity\.com/tradeoffer/new\b",
        r"\bsteam-?(gift|nitro|community)[a-z0-9-]*\.(com|ru|net)\b",
        r"\bdisc(o|0)rd-?(nitro|gift|app)[a-z0-9-]*\.(com|gift|ru|net)\b",
        r"\bfree\s+(discord\s+)?nitro\b",
        r"\bgift\s*card\s*(code|number)\s*:?\s*[a-z0-9-]{8,}\b",
        r"\bwallet\s+(address|phrase|seed)\b",
        r"\b(seed|recovery|secret)\s+phrase\b",
        r"\b(validate|verify|sync)\s+(your\s+)?wallet\b",
        r"\bconnect\s+(your\s+)?wallet\s+to\b",
        r"\bmetamask\s*-?\s*(support|help|recovery)\b",
        r"\bwallet\s*connect\s*(support|fix|rectify)\b",
    ] {
        add(Category::Invite, pattern.to_owned());
    }
    assert_eq!(out.len(), REGEX_COUNT, "the corpus promises {REGEX_COUNT} regexes");
    out
}

// ---- rule packs ----

/// One generated rule, as the naive reference needs it: its own keywords and regexes.
#[derive(Debug, Clone)]
pub struct RuleSpec {
    pub id: String,
    pub keywords: Vec<String>,
    pub regexes: Vec<String>,
    pub score: i64,
    pub tags: Vec<String>,
}

/// A generated rule folder: the rules, and the files that spell them.
#[derive(Debug, Clone)]
pub struct RuleCorpus {
    pub rules: Vec<RuleSpec>,
    /// Relative path and content of every file of the folder.
    pub files: Vec<(String, String)>,
}

impl RuleCorpus {
    /// Writes the folder (creating it and its `lists/` subfolder).
    pub fn write_to(&self, dir: &Path) -> io::Result<()> {
        for (path, content) in &self.files {
            let path = dir.join(path);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(path, content)?;
        }
        Ok(())
    }
}

const KEYWORD_PACKS: [&str; 5] = ["abuse", "spam", "scam", "adult", "brands"];

/// A TOML basic string: our generated strings hold no quote or backslash, but be safe.
fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            _ => out.push(c),
        }
    }
    out.push('"');
    out
}

fn quoted_list(items: &[String]) -> String {
    let mut out = String::from("[");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(&quoted(item));
    }
    out.push(']');
    out
}

/// A TOML array with one item a line, the way people keep long keyword lists.
fn quoted_lines(items: &[String]) -> String {
    let mut out = String::from("[\n");
    for item in items {
        let _ = writeln!(out, "  {},", quoted(item));
    }
    out.push(']');
    out
}

/// The rule folder with the first `keyword_count` keywords and the 300 regexes, everything at
/// `normalize = "basic"`, keywords in whole-word mode.
pub fn rule_corpus(keyword_count: usize) -> RuleCorpus {
    let mut rng = Rng::new(2);
    let keywords = keywords(keyword_count);
    let mut rules = Vec::new();
    let mut files = Vec::new();

    // Keyword rules: chunks of 100–500, dealt round robin to the packs; every third rule reads a
    // named list (one in four of those from a list file) instead of inline keywords.
    let mut packs: Vec<(String, String, String)> =
        KEYWORD_PACKS.iter().map(|p| (p.to_string(), String::new(), String::new())).collect();
    let mut start = 0;
    let mut n = 0;
    while start < keywords.len() {
        let size = rng.range(100, 500).min(keywords.len() - start);
        let chunk = keywords[start..start + size].to_vec();
        start += size;
        let pack_index = n % packs.len();
        let (pack, lists, body) = &mut packs[pack_index];
        let id = format!("{pack}.kw-{n:04}");
        let score = *rng.pick(&[10, 20, 30, 40, 60]);
        let tags = vec![pack.clone(), format!("kw-{}", n % 7)];
        let _ = writeln!(body, "[[rule]]\nid = {}", quoted(&id));
        let _ = writeln!(body, "description = \"Generated keyword rule {n} ({size} keywords)\"");
        if n % 3 == 2 {
            let list = format!("{pack}_{n:04}");
            if n % 4 == 1 {
                let file = format!("lists/{list}.txt");
                let mut text = format!("# generated list {list}\n");
                for k in &chunk {
                    text.push_str(k);
                    text.push('\n');
                }
                files.push((file.clone(), text));
                let _ = writeln!(lists, "{list} = {{ file = {} }}", quoted(&file));
            } else {
                let _ = writeln!(lists, "{list} = {}", quoted_lines(&chunk));
            }
            let _ = writeln!(body, "lists = [{}]", quoted(&list));
        } else {
            let _ = writeln!(body, "keywords = {}", quoted_lines(&chunk));
        }
        let _ = writeln!(body, "normalize = \"basic\"\nscore = {score}\ntags = {}", quoted_list(&tags));
        match n % 20 {
            7 => body.push_str("action = \"mask\"\n"),
            13 => body.push_str("mode = \"shadow\"\n"),
            19 => body.push_str("action = \"drop\"\n"),
            _ => {}
        }
        if n % 5 == 3 {
            body.push_str("unless = { sender_role = [\"moderator\", \"admin\"] }\n");
        }
        body.push('\n');
        rules.push(RuleSpec { id, keywords: chunk, regexes: Vec::new(), score, tags });
        n += 1;
    }
    for (pack, lists, body) in packs {
        if body.is_empty() {
            continue;
        }
        let mut text = format!("# Generated by benches/corpus.rs: do not edit.\n\n[pack]\nname = \"kw-{pack}\"\n\n");
        if !lists.is_empty() {
            text.push_str("[lists]\n");
            text.push_str(&lists);
            text.push('\n');
        }
        text.push_str(&body);
        files.push((format!("kw-{pack}.toml"), text));
    }

    // Regex rules: each category cut into rules of at most 10 patterns.
    let mut regex_packs: Vec<(&str, String)> = Vec::new();
    let all = regexes();
    for category in Category::ALL {
        let patterns: Vec<String> = all.iter().filter(|r| r.category == category).map(|r| r.pattern.clone()).collect();
        for (i, chunk) in patterns.chunks(10).enumerate() {
            let pack = category.pack();
            let id = format!("{pack}.{}-{i}", category.name());
            let (score, action) = match category {
                Category::Email | Category::Phone | Category::Card | Category::Secret => (20, "mask"),
                Category::Obfuscated | Category::SpamPhrase => (40, "tag"),
                _ => (30, "tag"),
            };
            let tags = vec![pack.trim_start_matches("re-").to_owned(), category.name().to_owned()];
            let index = match regex_packs.iter().position(|(p, _)| *p == pack) {
                Some(index) => index,
                None => {
                    regex_packs.push((pack, String::new()));
                    regex_packs.len() - 1
                }
            };
            let body = &mut regex_packs[index].1;
            let _ = writeln!(body, "[[rule]]\nid = {}", quoted(&id));
            body.push_str("regex = [\n");
            for p in chunk {
                // TOML literal strings: no escaping, exactly what the operator types.
                let _ = writeln!(body, "  '{p}',");
            }
            let _ = writeln!(body, "]\nnormalize = \"basic\"\nscore = {score}\ntags = {}", quoted_list(&tags));
            let _ = writeln!(body, "action = \"{action}\"\n");
            rules.push(RuleSpec { id, keywords: Vec::new(), regexes: chunk.to_vec(), score, tags });
        }
    }
    for (pack, body) in regex_packs {
        files.push((
            format!("{pack}.toml"),
            format!("# Generated by benches/corpus.rs: do not edit.\n\n[pack]\nname = \"{pack}\"\n\n{body}"),
        ));
    }
    files.push((
        "policy.toml".to_owned(),
        "# Generated by benches/corpus.rs: do not edit.\n\n[policy]\ndrop_score = 100\n".to_owned(),
    ));
    RuleCorpus { rules, files }
}

// ---- messages ----

const GREETINGS: [&str; 14] = [
    "hey",
    "hi",
    "hello",
    "hey all",
    "morning everyone",
    "good morning",
    "yo",
    "hi team",
    "evening folks",
    "hey guys",
    "heya",
    "ok so",
    "quick one",
    "btw",
];
const SENTENCES: [&str; 48] = [
    "is the meeting still on for tomorrow",
    "I just pushed the fix, can someone review it when they get a chance",
    "running about ten minutes late, start without me",
    "did anyone see the game last night",
    "the build is green again after the last merge",
    "thanks for the help earlier, it worked",
    "can we move the call to after lunch",
    "I think the hiking trail is closed this weekend because of the snow",
    "who is bringing snacks on saturday",
    "just landed, heading to the hotel now",
    "the new design looks great, nice work everyone",
    "my internet keeps dropping so I might disconnect",
    "has anyone tried the ramen place near the station",
    "I will send the slides after the standup",
    "we need two more people for the team dinner",
    "the printer on the third floor is jammed again",
    "happy birthday, hope you have a great day",
    "let me know if you need anything else from me",
    "sorry I missed your message, was in meetings all day",
    "the tickets for the concert go on sale on friday",
    "please update the spreadsheet before the end of the week",
    "I found a bug in the login page, filing a ticket",
    "what time does the store close today",
    "the kids loved the museum, thanks for the tip",
    "we should plan the trip to the lake in june",
    "can you share the notes from the retro",
    "I am working from the cafe today",
    "the deploy is scheduled for thursday evening",
    "that movie was way better than I expected",
    "does anyone have a spare charger in the office",
    "I left my umbrella in the meeting room",
    "the weather looks perfect for the picnic",
    "congrats on the new job, well deserved",
    "we are out of coffee in the kitchen again",
    "the bus was late so I walked",
    "I will be offline for an hour, dentist appointment",
    "please review the pull request before merging",
    "who wants to join the running club on sunday",
    "the wifi password changed, ask the front desk",
    "I booked the table for seven people at eight",
    "the documentation is out of date on that page",
    "my cat knocked the plant off the shelf again",
    "is there parking near the venue",
    "lunch is on me today",
    "the recipe needs more garlic honestly",
    "can someone explain how the release process works",
    "I am on call this week so ping me if the alerts fire",
    "we won the quiz night by one point",
];
const QUESTIONS: [&str; 12] = [
    "any thoughts?",
    "what do you think?",
    "sound good?",
    "does that work for everyone?",
    "can you confirm?",
    "anyone?",
    "right?",
    "who is in?",
    "ok with you?",
    "makes sense?",
    "thoughts on this?",
    "should we vote?",
];
const LINKS: [&str; 12] = [
    "https://github.com/acme/webapp/pull/1432",
    "https://docs.google.com/document/d/1a2B3c4D5e6F7g8H9i0J/edit",
    "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
    "https://en.wikipedia.org/wiki/Hiking",
    "https://example.com/events/summer-picnic",
    "https://www.nytimes.com/2024/05/01/travel/lakes.html",
    "https://maps.google.com/?q=central+station",
    "https://acme.atlassian.net/browse/WEB-2231",
    "https://www.reddit.com/r/rust/comments/abc123/",
    "https://news.ycombinator.com/item?id=40123456",
    "www.openstreetmap.org/#map=15/48.85/2.35",
    "https://stackoverflow.com/questions/12345/how-to-sort",
];
const EMOJI: [&str; 16] =
    ["😂", "👍", "🎉", "❤️", "🙏", "🔥", "😅", "🙂", "👀", "✅", "😭", "🤔", "💯", "🥳", "👋", "🍕"];
const NON_ASCII: [&str; 30] = [
    "On se retrouve au café à côté de la gare ?",
    "Merci beaucoup pour hier soir, c'était génial !",
    "¿Alguien sabe a qué hora empieza la reunión mañana?",
    "Qué buena idea, me apunto al plan del sábado",
    "Können wir das Treffen auf Dienstag verschieben? Ich bin krank.",
    "Schöne Grüße aus München, das Wetter ist großartig",
    "Você já viu a nova versão do aplicativo? Está ótima",
    "Amanhã não vou poder ir, desculpa",
    "Привет всем, встреча завтра в десять утра",
    "Спасибо за помощь, всё заработало",
    "Кто-нибудь знает, где ключи от переговорной?",
    "明日の会議は何時からですか？",
    "ありがとうございます、とても助かりました",
    "今日はリモートで働きます",
    "我们明天下午三点开会，请准时参加",
    "谢谢大家的帮助，问题已经解决了",
    "周末一起去爬山吗？",
    "안녕하세요, 내일 회의는 몇 시인가요?",
    "Γεια σας, τα λέμε αύριο στο γραφείο",
    "Żółć gęślą jaźń — testujemy polskie znaki",
    "Tüm ekibe teşekkürler, harika iş çıkardınız",
    "Hyvää huomenta kaikille, kahvi on valmis ☕",
    "Ça marche, à tout à l'heure 👋",
    "Jó reggelt! Ma otthonról dolgozom",
    "Dziękuję za szybką odpowiedź 🙏",
    "Bạn có rảnh vào thứ Bảy không?",
    "مرحبا بالجميع، الاجتماع غدا",
    "שלום לכולם, נתראה מחר",
    "नमस्ते, कल मिलते हैं",
    "Crème brûlée ou tarte tatin pour le dessert ? 🍮",
];
const NAMES: [&str; 12] =
    ["Anna", "Ben", "Chloé", "Dmitri", "Emma", "Farid", "Grace", "Hiro", "Ines", "Jonas", "Kai", "Lena"];

/// One chat message of the corpus.
#[derive(Debug, Clone)]
pub struct Message {
    pub text: String,
    pub sender: String,
    pub receiver: String,
    pub receiver_type: &'static str,
    pub role: &'static str,
    /// Whether the generator embedded something a rule matches. The engine may still find a few
    /// more (a regex can match ordinary text), which the benches report.
    pub planted: bool,
}

impl Message {
    /// A CometChat message object (the `data` of a `before_message` webhook), one JSON line.
    pub fn to_json(&self) -> String {
        let is_group = self.receiver_type == "group";
        let conversation = if is_group {
            format!("group_{}", self.receiver)
        } else {
            format!("{}_user_{}", self.sender, self.receiver)
        };
        let value = serde_json::json!({
            "conversationId": conversation,
            "sender": self.sender,
            "receiverType": self.receiver_type,
            "receiver": self.receiver,
            "category": "message",
            "type": "text",
            "data": {
                "text": self.text,
                "entities": { "sender": { "entity": { "uid": self.sender, "role": self.role }, "entityType": "user" } },
            },
        });
        value.to_string()
    }
}

/// Truncates to at most `max` bytes, at a char boundary, preferring a space.
fn truncate(text: &mut String, max: usize) {
    if text.len() <= max {
        return;
    }
    let mut cut = max;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    if let Some(space) = text[..cut].rfind(' ')
        && space >= 20
    {
        cut = space;
    }
    text.truncate(cut);
}

/// Something that makes one of the corpus regexes hit, shaped like what spammers send.
fn regex_bait(rng: &mut Rng) -> String {
    let alnum = |rng: &mut Rng, n: usize| -> String {
        (0..n).map(|_| *rng.pick(&b"abcdefghijklmnopqrstuvwxyz0123456789".map(char::from))).collect()
    };
    let digits =
        |rng: &mut Rng, n: usize| -> String { (0..n).map(|_| char::from(b'0' + rng.below(10) as u8)).collect() };
    match rng.below(12) {
        0 => format!("check this out {}/{}", rng.pick(&SHORTENERS), alnum(rng, 7)),
        1 => format!("visit {}-deals.{}", alnum(rng, 5), rng.pick(&TLDS)),
        2 => format!("email me at {}.{}@gmail.com", rng.pick(&NAMES).to_lowercase(), digits(rng, 2)),
        3 => format!("call me at {}-{}-{}", digits(rng, 3), digits(rng, 3), digits(rng, 4)),
        4 => format!("card 4{} {} {} {}", digits(rng, 3), digits(rng, 4), digits(rng, 4), digits(rng, 4)),
        5 => format!("here is the key sk_live_{}", alnum(rng, 24)),
        6 => format!("AKIA{} leaked", alnum(rng, 16).to_uppercase()),
        7 => format!("{} now!!!!!!", rng.pick(&["WOW", "OMG", "Hurry"])),
        8 => {
            let word = rng.pick(&OBFUSCATED);
            let spaced: Vec<String> = word.chars().map(|c| c.to_string()).collect();
            format!("get {} here", spaced.join("."))
        }
        9 => {
            // Verb i is paired with objects i, i + 2, … (see `regexes`).
            let verb = rng.below(SPAM_VERBS.len());
            let object = SPAM_OBJECTS[(verb + 2 * rng.below(6)) % SPAM_OBJECTS.len()];
            format!("{} {object} today", SPAM_VERBS[verb])
        }
        10 => format!("join us at discord.gg/{}", alnum(rng, 8)),
        _ => format!(
            "send it to 0x{}",
            (0..40).map(|_| *rng.pick(&b"0123456789abcdef".map(char::from))).collect::<String>()
        ),
    }
}

/// The 10,000 messages: 20–400 bytes of chat (greetings, plans, questions, links, emoji), a
/// quarter with non-ASCII text, about 5 % carrying a keyword or regex bait.
pub fn messages() -> Vec<Message> {
    let mut rng = Rng::new(3);
    let hit_keywords = keywords(HIT_KEYWORDS);
    (0..MESSAGE_COUNT)
        .map(|_| {
            // Chat is mostly short: 60 % up to 80 bytes, 30 % up to 200, 10 % up to 400.
            let target = match rng.below(10) {
                0..=5 => rng.range(20, 80),
                6..=8 => rng.range(80, 200),
                _ => rng.range(200, 400),
            };
            // With the emoji appended below, about a quarter of the messages are not ASCII.
            let non_ascii = rng.percent(16);
            let mut text = String::new();
            if rng.percent(40) {
                let _ = write!(text, "{} ", rng.pick(&GREETINGS));
                if rng.percent(30) {
                    let _ = write!(text, "{} ", rng.pick(&NAMES));
                }
            }
            while text.len() < target {
                let sentence = if non_ascii && (text.is_empty() || rng.percent(60)) {
                    rng.pick(&NON_ASCII).to_string()
                } else {
                    rng.pick(&SENTENCES).to_string()
                };
                text.push_str(&sentence);
                text.push_str(if rng.percent(30) { ". " } else { " " });
                if rng.percent(15) {
                    let _ = write!(text, "{} ", rng.pick(&QUESTIONS));
                }
                if rng.percent(8) {
                    let _ = write!(text, "{} ", rng.pick(&LINKS));
                }
            }
            let planted = rng.percent(5);
            if planted {
                let bait = if rng.percent(70) {
                    let keyword = rng.pick(&hit_keywords);
                    let frame =
                        rng.pick(&["have you heard of {} yet?", "{} again", "so much {} lately", "stop the {} please"]);
                    frame.replace("{}", keyword)
                } else {
                    regex_bait(&mut rng)
                };
                // The bait goes at the front or the end, so truncation never cuts it.
                truncate(&mut text, 400usize.saturating_sub(bait.len() + 1));
                if rng.percent(50) {
                    text = format!("{bait} {text}");
                } else {
                    text = format!("{} {bait}", text.trim_end());
                }
            }
            if rng.percent(11) {
                text.truncate(text.trim_end().len());
                let _ = write!(text, " {}", rng.pick(&EMOJI));
            }
            truncate(&mut text, 400);
            let text = text.trim_end().to_owned();
            let group = rng.percent(70);
            Message {
                text,
                sender: format!("uid-{}", rng.below(500)),
                receiver: if group { format!("guid-{}", rng.below(40)) } else { format!("uid-{}", rng.below(500)) },
                receiver_type: if group { "group" } else { "user" },
                role: if rng.below(50) == 0 { "moderator" } else { "default" },
                planted,
            }
        })
        .collect()
}

/// Writes every rule folder of [`SIZES`] and `messages.jsonl` under `dir`.
pub fn write_all(dir: &Path) -> io::Result<()> {
    for (name, size) in SIZES {
        let folder = dir.join(name);
        if folder.exists() {
            // A stale folder would keep files the current generator no longer writes.
            std::fs::remove_dir_all(&folder)?;
        }
        rule_corpus(size).write_to(&folder)?;
    }
    let mut lines = String::new();
    for m in messages() {
        lines.push_str(&m.to_json());
        lines.push('\n');
    }
    std::fs::write(dir.join("messages.jsonl"), lines)
}
