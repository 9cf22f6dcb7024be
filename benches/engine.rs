//! Criterion benches of the request path and of rule compilation, on the generated corpus of
//! `benches/corpus.rs`, with a naive per-rule `Regex` evaluator measured in the same run so the
//! speed-up is a ratio of two figures from the same machine and moment. See `benches/README.md`.

mod corpus;
mod floor;

use std::hint::black_box;
use std::path::PathBuf;
use std::sync::{LazyLock, OnceLock};
use std::time::{Duration, Instant};

use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use regex::Regex;
use serde::Serialize;

use inflight::decision_log::DecisionRecord;
use inflight::protocol::{MessageView, parse_message, parse_request};
use inflight::rules::normalize::Normalized;
use inflight::rules::{Level, Ruleset, load_dir};
use inflight::state::{MemoryState, Outcome as StateOutcome, decide_with};

/// Bench ids of the rule folder sizes, in `corpus::SIZES` order.
const SIZE_IDS: [&str; 3] = ["500", "5k", "50k"];
const FIVE_K: usize = 1;

/// A typical 100-byte chat message, ASCII and not.
const ASCII_100: &str =
    "Hey everyone, is the meeting still on for tomorrow at 10? I can't find the invite link anywhere :(";
const NON_ASCII_100: &str = "Salut à tous ! Привет 👋 la réunion de demain est-elle à 15h ? 会議のリンクを 🙏";

/// A real `before_message` body (fixtures/cometchat/before_message_group_text.json) whose text
/// the request bench replaces with corpus messages.
const REQUEST_BODY: &str = r#"{"trigger":"before_message","data":{"conversationId":"group_cometchat-guid-1","sender":"cometchat-uid-2","receiverType":"group","receiver":"cometchat-guid-1","category":"message","type":"text","data":{"text":"","resource":"WEB-4_1_10-e16325bd-1ad5-4dcc-bae2-9d4cb63540ea-1791272204048","entities":{"sender":{"entity":{"uid":"cometchat-uid-2","name":"George Alan","avatar":"https://assets.example.com/users/cometchat-uid-2.webp","status":"offline","role":"default","lastActiveAt":1791272119},"entityType":"user"},"receiver":{"entity":{"guid":"cometchat-guid-1","name":"Hiking Group","type":"private","scope":"participant","membersCount":5,"joinedAt":1791272119,"conversationId":"group_cometchat-guid-1","hasJoined":true,"createdAt":1791272119,"owner":"cometchat-uid-5","onlineMembersCount":2},"entityType":"group"}},"metadata":{"@injected":{"extensions":{"link-preview":{"links":[]}}}}},"sentAt":1791272621,"updatedAt":1791272621,"muid":"_of6zl8yky"},"appId":"167000000001529","webhook":"send-message"}"#;

// ---- the clock ----

/// Wall time (criterion's default), or with `BENCH_CLOCK=cpu` the time the benchmarking thread
/// spent on a CPU. On a busy shared machine wall time also counts the time the thread waited for
/// a core; CPU time does not (it still includes cache interference from other processes).
pub struct Clock {
    cpu: bool,
}

impl Clock {
    fn from_env() -> Self {
        let cpu = std::env::var("BENCH_CLOCK").is_ok_and(|v| v == "cpu") && thread_cpu_time().is_some();
        if cpu {
            eprintln!("BENCH_CLOCK=cpu: timing on-CPU time of the bench thread, not wall time");
        }
        Clock { cpu }
    }

    fn now(&self) -> (Instant, Duration) {
        (Instant::now(), if self.cpu { thread_cpu_time().unwrap_or_default() } else { Duration::ZERO })
    }
}

impl Measurement for Clock {
    type Intermediate = (Instant, Duration);
    type Value = Duration;

    fn start(&self) -> Self::Intermediate {
        self.now()
    }
    fn end(&self, (wall, cpu): Self::Intermediate) -> Duration {
        if self.cpu { thread_cpu_time().unwrap_or_default().saturating_sub(cpu) } else { wall.elapsed() }
    }
    fn add(&self, v1: &Duration, v2: &Duration) -> Duration {
        *v1 + *v2
    }
    fn zero(&self) -> Duration {
        Duration::ZERO
    }
    fn to_f64(&self, value: &Duration) -> f64 {
        value.as_nanos() as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        // Values are nanoseconds either way, so criterion's own duration formatter applies.
        static WALL: WallTime = WallTime;
        WALL.formatter()
    }
}

/// The calling thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`).
fn thread_cpu_time() -> Option<Duration> {
    let ts = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    Some(Duration::new(u64::try_from(ts.tv_sec).ok()?, u32::try_from(ts.tv_nsec).ok()?))
}

// ---- shared setup, built on first use so a filtered run only pays for what it measures ----
//
// Criterion calls a bench's closure many times (warm-up, then every sample), so anything costly
// lives in these statics, not in the closure.

/// Where the rule folders are written: kept under `target/` and rewritten by each run.
fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bench-corpus")
}

static MESSAGES: LazyLock<Vec<corpus::Message>> = LazyLock::new(corpus::messages);

/// The corpus messages as the engine sees them: parsed from their JSON lines once.
static VIEWS: LazyLock<Vec<MessageView<'static>>> = LazyLock::new(|| {
    MESSAGES.iter().map(|m| parse_message(&m.to_json()).expect("corpus messages are valid JSON").into_owned()).collect()
});

static FOLDERS: [OnceLock<PathBuf>; 3] = [OnceLock::new(), OnceLock::new(), OnceLock::new()];
static RULESETS: [OnceLock<Ruleset>; 3] = [OnceLock::new(), OnceLock::new(), OnceLock::new()];

fn folder(size: usize) -> &'static PathBuf {
    FOLDERS[size].get_or_init(|| {
        let (name, keywords) = corpus::SIZES[size];
        let dir = corpus_dir().join(name);
        if dir.exists() {
            std::fs::remove_dir_all(&dir).expect("remove the previous corpus folder");
        }
        corpus::rule_corpus(keywords).write_to(&dir).expect("write the corpus folder");
        dir
    })
}

fn ruleset(size: usize) -> &'static Ruleset {
    RULESETS[size].get_or_init(|| match load_dir(folder(size)) {
        Ok(loaded) => loaded.ruleset,
        Err(e) => panic!("the generated {} folder does not compile:\n{e:?}", corpus::SIZES[size].0),
    })
}

/// Cycles through `items`, one per call: each iteration decides the next message, so the
/// figure is the mean over the corpus mix, not one message in a hot cache. Made outside a
/// bench's closure, so each sample carries on where the previous one stopped.
fn rotate<'a, T>(items: &'a [T]) -> impl FnMut() -> &'a T {
    let mut i = 0;
    move || {
        let item = &items[i];
        i = (i + 1) % items.len();
        item
    }
}

// ---- normalize ----

fn normalize(c: &mut Criterion<Clock>) {
    let mut group = c.benchmark_group("normalize");
    group.warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
    for level in Level::ALL {
        for (variant, text) in [("ascii", ASCII_100), ("non-ascii", NON_ASCII_100)] {
            group.throughput(Throughput::Bytes(text.len() as u64));
            group.bench_function(format!("{}/{variant}", level.name()), |b| {
                let mut normalized = Normalized::new();
                b.iter(|| {
                    normalized.normalize_into(level, black_box(text));
                    black_box(normalized.text().len())
                })
            });
        }
        // The request path's form: the text alone, no origin map (`normalize_text_into`).
        if matches!(level, Level::Basic | Level::Strict) {
            for (variant, text) in [("ascii", ASCII_100), ("non-ascii", NON_ASCII_100)] {
                group.throughput(Throughput::Bytes(text.len() as u64));
                group.bench_function(format!("{}-text/{variant}", level.name()), |b| {
                    let mut normalized = Normalized::new();
                    b.iter(|| {
                        normalized.normalize_text_into(level, black_box(text));
                        black_box(normalized.text().len())
                    })
                });
            }
        }
        // The corpus mix, one message per iteration: the normalization share of `decide`.
        group.throughput(Throughput::Elements(1));
        let mut next = rotate(&MESSAGES);
        group.bench_function(format!("{}/corpus", level.name()), |b| {
            let mut normalized = Normalized::new();
            b.iter(|| {
                normalized.normalize_into(level, black_box(&next().text));
                black_box(normalized.text().len())
            })
        });
    }
    group.finish();
}

// ---- evasion: what strict's evasion handling costs ----

/// 100 bytes of ASCII chat with a hashtag and a handle, so strict looks for compounds.
const HASHTAG_100: &str = "@jordan_lee loved the show tonight!! #bestnightever #ThanksEveryone see you all next week";

/// `strict` − `basic` on 100 bytes of ASCII (the issue's budget: 1 µs), the same with a hashtag
/// and a handle (compound boundaries marked), and the bundled rules' decision on each (hashtag
/// segmentation runs only where a keyword sits inside a hashtag, so both should be close).
fn evasion(c: &mut Criterion<Clock>) {
    let mut group = c.benchmark_group("evasion");
    group.warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
    for (variant, text) in [("ascii", ASCII_100), ("hashtag", HASHTAG_100)] {
        for level in [Level::Basic, Level::Strict] {
            group.bench_function(format!("{}/{variant}", level.name()), |b| {
                let mut normalized = Normalized::new();
                b.iter(|| {
                    normalized.normalize_into(level, black_box(text));
                    black_box(normalized.text().len())
                })
            });
        }
    }
    let bundled =
        load_dir(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("rules")).expect("bundled rules load").ruleset;
    for (variant, text) in [("ascii", ASCII_100), ("hashtag", HASHTAG_100), ("glued", "#fuckthis and #therapistfinder")]
    {
        group.bench_function(format!("bundled-decide/{variant}"), |b| {
            b.iter(|| black_box(bundled.evaluate(&MessageView::with_text(black_box(text))).score))
        });
    }
    // The worst case a request can bring: 64 KB with a letter beside a digit every few words
    // (compound boundaries everywhere). Linear in the text; once was quadratic (60 ms).
    let long: String = (0..1100).map(|n| format!("keeps the d0ct0r away, call 555 {n:04}; ")).collect();
    group.sample_size(10);
    group.bench_function("bundled-decide/64k-digits", |b| {
        b.iter(|| black_box(bundled.evaluate(&MessageView::with_text(black_box(long.as_str()))).score))
    });
    group.finish();
}

// ---- state: what rules that remember cost on top of the decision ----

/// The bundled rules with and without `flood.toml` (and the `counts` that feed it), on the
/// corpus messages: the same decision without state, and with the memory store's exchange and
/// record (the issue's budget: at most +1 µs per message). Time moves 10 ms a message, so windows
/// fill and slide as in real traffic.
fn state(c: &mut Criterion<Clock>) {
    let mut group = c.benchmark_group("state");
    group.warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    group.throughput(Throughput::Elements(1));
    let bundled = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("rules");
    let without = tempfile_dir("bundled-without-state");
    copy_without_state(&bundled, &without);
    let plain = load_dir(&without).expect("bundled rules without state load").ruleset;
    let counting = load_dir(&bundled).expect("bundled rules load").ruleset;
    assert!(counting.uses_state() && !plain.uses_state());
    let mut next = rotate(&VIEWS);
    group.bench_function("bundled-without-state", |b| {
        b.iter(|| black_box(plain.evaluate(black_box(next())).answer_json()))
    });
    let memory = MemoryState::new(1_000_000, 30 * 24 * 3600 * 1000);
    let mut next = rotate(&VIEWS);
    let mut now_ms = 1_791_272_621_000u64;
    group.bench_function("bundled-with-flood-memory", |b| {
        b.iter(|| {
            now_ms += 10;
            let outcome = decide_with(
                &counting,
                black_box(next()),
                now_ms,
                |query| memory.exchange_now(query),
                |record| memory.record_now(&record),
            );
            match outcome {
                StateOutcome::Decided(decision) => black_box(decision.answer_json()),
                StateOutcome::Resent(answer) => black_box(answer),
            }
        })
    });
    group.finish();
}

/// A fresh folder under the bench target directory.
fn tempfile_dir(name: &str) -> PathBuf {
    let dir = corpus_dir().join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create the folder");
    dir
}

/// `from`'s packs and lists without `flood.toml` and without the `counts` lines that feed it.
fn copy_without_state(from: &std::path::Path, to: &std::path::Path) {
    for entry in std::fs::read_dir(from).expect("read the rules folder") {
        let path = entry.expect("entry").path();
        let name = path.file_name().expect("a name").to_owned();
        if path.is_dir() {
            std::fs::create_dir_all(to.join(&name)).expect("create");
            copy_without_state(&path, &to.join(&name));
        } else if name != "flood.toml" {
            let text = std::fs::read_to_string(&path).expect("read");
            let kept: Vec<&str> = text.lines().filter(|l| !l.trim_start().starts_with("counts")).collect();
            std::fs::write(to.join(&name), kept.join("\n") + "\n").expect("write");
        }
    }
}

// ---- decide: the engine's whole decision ----

fn decide(c: &mut Criterion<Clock>) {
    let mut group = c.benchmark_group("decide");
    group.warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    group.throughput(Throughput::Elements(1));
    for (size, id) in SIZE_IDS.iter().enumerate() {
        let mut next = rotate(&VIEWS);
        group.bench_function(*id, |b| {
            let rs = ruleset(size);
            b.iter(|| {
                let decision = rs.evaluate(black_box(next()));
                black_box(decision.answer_json())
            })
        });
    }
    // On the naive group's subset, so `naive/5k` ÷ this is a like-for-like ratio.
    let subset: Vec<&MessageView<'static>> = VIEWS.iter().step_by(NAIVE_STRIDE).collect();
    let mut next = rotate(&subset);
    group.bench_function("5k-naive-subset", |b| {
        let rs = ruleset(FIVE_K);
        b.iter(|| black_box(rs.evaluate(black_box(next())).answer_json()))
    });
    group.finish();

    // Without the answer body: what `evaluate` alone costs.
    let mut group = c.benchmark_group("evaluate");
    group.warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    group.throughput(Throughput::Elements(1));
    let mut next = rotate(&VIEWS);
    group.bench_function(SIZE_IDS[FIVE_K], |b| {
        let rs = ruleset(FIVE_K);
        b.iter(|| black_box(rs.evaluate(black_box(next())).verdict))
    });
    group.finish();
}

// ---- floor: the bare algorithm inflight is held to ----

/// The floor kernel (benches/floor.rs) on the same messages as `decide`: `decide/5k` ÷
/// `floor/5k` is what inflight costs over the bare algorithm (`inflight bench --compare` prints
/// the same ratio in one run).
fn floor(c: &mut Criterion<Clock>) {
    let mut group = c.benchmark_group("floor");
    group.warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    group.throughput(Throughput::Elements(1));
    for (size, id) in SIZE_IDS.iter().enumerate() {
        let mut next = rotate(&MESSAGES);
        group.bench_function(*id, |b| {
            let floor = floor::Floor::new(ruleset(size)).expect("the corpus suits the floor kernel");
            let mut scratch = floor::FloorScratch::default();
            let mut hit = Vec::new();
            b.iter(|| {
                floor.rules_hit(black_box(&next().text), &mut scratch, &mut hit);
                black_box(hit.len())
            })
        });
    }
    group.finish();
}

// ---- naive reference: one `Regex` per keyword and per pattern, each run on the raw text ----

/// A rule as a user without inflight would run it.
struct NaiveRule {
    id: String,
    score: i64,
    tags: Vec<String>,
    regexes: Vec<Regex>,
}

#[derive(Serialize)]
struct NaiveHit<'a> {
    rule: &'a str,
    start: usize,
    end: usize,
}

#[derive(Serialize)]
struct NaiveAnswer<'a> {
    score: i64,
    tags: Vec<&'a str>,
    rules: Vec<&'a str>,
    matches: Vec<NaiveHit<'a>>,
}

fn naive_rules(keyword_count: usize) -> Vec<NaiveRule> {
    corpus::rule_corpus(keyword_count)
        .rules
        .into_iter()
        .map(|rule| {
            let keywords = rule.keywords.iter().map(|k| format!(r"(?i)\b{}\b", regex::escape(k)));
            let patterns = rule.regexes.iter().map(|p| format!("(?i){p}"));
            let regexes = keywords.chain(patterns).map(|p| Regex::new(&p).expect("corpus patterns compile")).collect();
            NaiveRule { id: rule.id, score: rule.score, tags: rule.tags, regexes }
        })
        .collect()
}

/// Every rule, every pattern, every occurrence; then the same kind of answer body.
fn naive_decide(rules: &[NaiveRule], text: &str) -> Vec<u8> {
    let mut answer = NaiveAnswer { score: 0, tags: Vec::new(), rules: Vec::new(), matches: Vec::new() };
    for rule in rules {
        let before = answer.matches.len();
        for re in &rule.regexes {
            answer.matches.extend(re.find_iter(text).map(|m| NaiveHit {
                rule: &rule.id,
                start: m.start(),
                end: m.end(),
            }));
        }
        if answer.matches.len() > before {
            answer.score += rule.score;
            answer.rules.push(&rule.id);
            answer.tags.extend(rule.tags.iter().map(String::as_str));
        }
    }
    if answer.rules.is_empty() {
        return b"{}".to_vec();
    }
    answer.tags.sort_unstable();
    answer.tags.dedup();
    serde_json::to_vec(&answer).unwrap_or_default()
}

/// The naive rules of the 5k folder: thousands of regexes, compiled once per run.
static NAIVE_5K: LazyLock<Vec<NaiveRule>> = LazyLock::new(|| {
    let rules = naive_rules(corpus::SIZES[FIVE_K].1);
    // Once, outside the timing: how often each side finds something on the same messages, so a
    // reader can see both do comparable work.
    let sample = &MESSAGES[..1000];
    let naive_hits = sample.iter().filter(|m| naive_decide(&rules, &m.text) != b"{}").count();
    let rs = ruleset(FIVE_K);
    let engine_hits = VIEWS[..1000].iter().filter(|v| !rs.evaluate(v).hits.is_empty()).count();
    let planted = sample.iter().filter(|m| m.planted).count();
    eprintln!(
        "naive/5k: of the first 1000 messages, {planted} carry bait; naive hits {naive_hits}, engine hits {engine_hits}"
    );
    rules
});

const NAIVE_STRIDE: usize = 20;

/// Every 20th message: 500 messages spread over the corpus. At milliseconds per message the naive
/// side cannot cycle through all 10,000 in a sample, and its 5,300 regexes each fill their lazy
/// DFA cache on first sight of new text; a fixed, representative subset that the warm-up covers
/// entirely keeps the figure steady from run to run.
static NAIVE_MESSAGES: LazyLock<Vec<&'static str>> =
    LazyLock::new(|| MESSAGES.iter().step_by(NAIVE_STRIDE).map(|m| m.text.as_str()).collect());

fn naive(c: &mut Criterion<Clock>) {
    let mut group = c.benchmark_group("naive");
    group.warm_up_time(Duration::from_secs(4)).measurement_time(Duration::from_secs(4)).sample_size(20);
    group.sampling_mode(SamplingMode::Flat);
    group.throughput(Throughput::Elements(1));
    let mut next = rotate(&NAIVE_MESSAGES);
    group.bench_function(SIZE_IDS[FIVE_K], |b| {
        let rules = &*NAIVE_5K;
        b.iter(|| black_box(naive_decide(rules, black_box(next()))))
    });
    group.finish();
}

// ---- compile: load_dir on the generated folders ----

fn compile(c: &mut Criterion<Clock>) {
    let mut group = c.benchmark_group("compile");
    group.sample_size(10).warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(4));
    group.sampling_mode(SamplingMode::Flat);
    for (size, id) in SIZE_IDS.iter().enumerate() {
        group.bench_function(*id, |b| {
            let dir = folder(size);
            b.iter(|| black_box(load_dir(dir).map(|l| l.ruleset.keyword_count())))
        });
    }
    group.finish();
}

// ---- request: a whole webhook body in, the answer body out ----

/// Webhook bodies for the first 1000 corpus messages.
static REQUEST_BODIES: LazyLock<Vec<Vec<u8>>> = LazyLock::new(|| {
    let template: serde_json::Value = serde_json::from_str(REQUEST_BODY).expect("the request body is JSON");
    MESSAGES[..1000]
        .iter()
        .map(|m| {
            let mut body = template.clone();
            body["data"]["data"]["text"] = serde_json::Value::String(m.text.clone());
            serde_json::to_vec(&body).expect("serialize a request body")
        })
        .collect()
});

fn request(c: &mut Criterion<Clock>) {
    let mut group = c.benchmark_group("request");
    group.warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    group.throughput(Throughput::Elements(1));
    let mut next = rotate(&REQUEST_BODIES);
    group.bench_function("parse_decide_serialize", |b| {
        let rs = ruleset(FIVE_K);
        b.iter(|| {
            let answer = match parse_request(black_box(next())) {
                Ok(request) => rs.evaluate(&request.message).answer_json(),
                Err(_) => b"{}".to_vec(),
            };
            black_box(answer)
        })
    });
    // What `--decision-log` adds on the request thread: the line formatted from the decision.
    let mut next = rotate(&REQUEST_BODIES);
    group.bench_function("decision_log_line", |b| {
        let rs = ruleset(FIVE_K);
        b.iter(|| {
            let Ok(request) = parse_request(next()) else { return 0 };
            let decision = rs.evaluate(&request.message);
            let answer = decision.answer_json();
            let record = DecisionRecord {
                at: std::time::SystemTime::now(),
                message: &request.message,
                decision: &decision,
                answer: &answer,
                eval: Duration::from_micros(1),
                state: None,
            };
            black_box(record.to_line(false)).len()
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(Clock::from_env());
    targets = normalize, evasion, state, decide, floor, naive, compile, request
}
criterion_main!(benches);
