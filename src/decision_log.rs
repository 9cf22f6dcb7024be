//! The decision log (docs/service.md, docs/cli.md): one JSON line per `before_message`, written off the
//! request path.
//!
//! A request formats its line and hands it to a bounded queue without waiting; one writer thread
//! appends lines to the file. When the disk is slow and the queue is full, the line is counted as
//! dropped (exported in metrics) rather than making CometChat wait. `reopen` (on `SIGHUP`) lets
//! logrotate move the file away.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::time::{Duration, Instant, SystemTime};

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::message::{FlatKey, Key, MessageView, read_flat_value, skip_value};
use crate::protocol::{LenientSeq, LenientStr};
use crate::rules::{Decision, MatchSpan, RuleHit, StateNote};
use crate::time::rfc3339;

/// Lines waiting for the writer; beyond this a line is dropped and counted.
pub const QUEUE_LINES: usize = 65_536;

enum Command {
    Line(Vec<u8>),
    Reopen,
    Flush(SyncSender<()>),
}

/// The handle requests use. Cloning shares the queue.
#[derive(Clone)]
pub struct DecisionLog {
    tx: SyncSender<Command>,
    counters: Arc<Counters>,
}

#[derive(Default, Debug)]
struct Counters {
    written: AtomicU64,
    dropped: AtomicU64,
    write_errors: AtomicU64,
}

impl std::fmt::Debug for DecisionLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DecisionLog").field("counters", &self.counters).finish()
    }
}

impl DecisionLog {
    /// Opens (appends to) `path` and starts the writer thread.
    pub fn open(path: &Path) -> std::io::Result<Self> {
        Self::with_capacity(path, QUEUE_LINES)
    }

    /// Like `open`, with a queue of `lines` lines (tests use a small one).
    pub fn with_capacity(path: &Path, lines: usize) -> std::io::Result<Self> {
        let file = open_append(path)?;
        let (tx, rx) = sync_channel(lines);
        let counters = Arc::new(Counters::default());
        let writer_counters = counters.clone();
        let path = path.to_path_buf();
        std::thread::Builder::new()
            .name("inflight-decision-log".into())
            .spawn(move || write_lines(path, file, rx, &writer_counters))?;
        Ok(DecisionLog { tx, counters })
    }

    /// Queues one line (without its newline). Never blocks: returns false, and counts the line
    /// as dropped, when the queue is full.
    pub fn record(&self, line: Vec<u8>) -> bool {
        match self.tx.try_send(Command::Line(line)) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.counters.dropped.fetch_add(1, Ordering::Relaxed);
                false
            }
        }
    }

    /// Closes and reopens the file by name (after log rotation moved it).
    pub fn reopen(&self) {
        let _ = self.tx.send(Command::Reopen);
    }

    /// Waits until every line queued so far is written (for shutdown and tests).
    pub fn flush(&self, timeout: Duration) -> bool {
        let (done_tx, done_rx) = sync_channel(1);
        if self.tx.send_timeout_compat(Command::Flush(done_tx), timeout) {
            done_rx.recv_timeout(timeout).is_ok()
        } else {
            false
        }
    }

    /// Lines known to be in the file.
    pub fn written(&self) -> u64 {
        self.counters.written.load(Ordering::Relaxed)
    }

    /// Lines that could not be queued (the queue was full) or written.
    pub fn dropped(&self) -> u64 {
        self.counters.dropped.load(Ordering::Relaxed)
    }

    /// Write or flush calls that failed.
    pub fn write_errors(&self) -> u64 {
        self.counters.write_errors.load(Ordering::Relaxed)
    }
}

/// `SyncSender::send` blocks without bound; flushing must not hang a shutdown forever.
trait SendTimeout {
    fn send_timeout_compat(&self, cmd: Command, timeout: Duration) -> bool;
}

impl SendTimeout for SyncSender<Command> {
    fn send_timeout_compat(&self, mut cmd: Command, timeout: Duration) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            match self.try_send(cmd) {
                Ok(()) => return true,
                Err(TrySendError::Disconnected(_)) => return false,
                Err(TrySendError::Full(back)) => {
                    if std::time::Instant::now() >= deadline {
                        return false;
                    }
                    cmd = back;
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
        }
    }
}

fn open_append(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

/// The writer's buffer: at tens of thousands of lines a second, few large writes instead of one
/// system call per line (measured: a flush per small batch halved the service's throughput).
const BUFFER_BYTES: usize = 1 << 20;
/// How long a written line may wait in the buffer before it reaches the file.
const FLUSH_EVERY: Duration = Duration::from_millis(100);

/// How long the writer naps between drains while lines are coming in.
const NAP: Duration = Duration::from_millis(5);

fn write_lines(path: PathBuf, file: File, rx: Receiver<Command>, counters: &Counters) {
    let mut writer = Writer::new(path, file, counters);
    loop {
        // Busy: drain what is queued, then nap. A writer parked on the queue would be woken by
        // every line, and those wake-ups cost the request threads more than the writing does
        // (measured: +7 to +14 µs per request, against +1 to +3 µs napping).
        let mut drained = false;
        while let Ok(cmd) = rx.try_recv() {
            writer.handle(cmd);
            drained = true;
        }
        if writer.lines > 0 && writer.last_flush.elapsed() >= FLUSH_EVERY {
            writer.flush();
        }
        if drained || writer.lines > 0 {
            std::thread::sleep(NAP);
            continue;
        }
        // Idle with nothing pending: block until the next line.
        match rx.recv() {
            Ok(cmd) => writer.handle(cmd),
            Err(_) => break,
        }
    }
    writer.flush();
}

/// The writer thread's file and buffer. It writes whole lines or nothing: after a short write
/// (a full disk) the file is cut back to the end of the last whole line, and the counters say
/// exactly which lines are in the file.
struct Writer<'c> {
    path: PathBuf,
    file: File,
    /// Whole lines, each ending in a newline, not yet written.
    buf: Vec<u8>,
    /// Lines in `buf`.
    lines: u64,
    last_flush: Instant,
    /// A torn line could not be cut away: the next write starts on a new line.
    torn: bool,
    /// Writes are failing; logged once when it starts and once when it ends.
    failing: bool,
    counters: &'c Counters,
}

impl<'c> Writer<'c> {
    fn new(path: PathBuf, file: File, counters: &'c Counters) -> Self {
        Writer {
            path,
            file,
            buf: Vec::with_capacity(BUFFER_BYTES),
            lines: 0,
            last_flush: Instant::now(),
            torn: false,
            failing: false,
            counters,
        }
    }

    fn handle(&mut self, cmd: Command) {
        match cmd {
            Command::Line(line) => {
                self.buf.extend_from_slice(&line);
                self.buf.push(b'\n');
                self.lines += 1;
                if self.buf.len() >= BUFFER_BYTES {
                    self.flush();
                }
            }
            Command::Reopen => {
                self.flush();
                match open_append(&self.path) {
                    Ok(f) => {
                        self.file = f;
                        self.torn = false;
                    }
                    Err(e) => tracing::error!(path = %self.path.display(), error = %e, "cannot reopen decision log"),
                }
            }
            Command::Flush(done) => {
                self.flush();
                let _ = done.try_send(());
            }
        }
    }

    /// Writes the buffer out; counts the lines that made it whole as written and the rest as
    /// dropped.
    fn flush(&mut self) {
        self.last_flush = Instant::now();
        if self.buf.is_empty() {
            return;
        }
        let lines = std::mem::take(&mut self.lines);
        if self.torn {
            if let Err(e) = self.file.write_all(b"\n") {
                self.buf.clear();
                self.failed(lines, &e);
                return;
            }
            self.torn = false;
        }
        // Where this write begins, to cut a torn line away (the file is opened to append).
        let start = self.file.metadata().map(|m| m.len()).ok();
        let mut done = 0;
        let result = loop {
            match self.file.write(self.buf.get(done..).unwrap_or_default()) {
                Ok(0) => break Err(std::io::Error::from(std::io::ErrorKind::WriteZero)),
                Ok(n) => {
                    done += n;
                    if done >= self.buf.len() {
                        break Ok(());
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => break Err(e),
            }
        };
        let written = self.buf.get(..done).unwrap_or_default();
        let whole = written.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
        let whole_lines = memchr::memchr_iter(b'\n', written).count() as u64;
        self.counters.written.fetch_add(whole_lines, Ordering::Relaxed);
        self.buf.clear();
        match result {
            Ok(()) => {
                if self.failing {
                    self.failing = false;
                    tracing::info!(path = %self.path.display(), "decision log writes again");
                }
            }
            Err(e) => {
                if whole < done {
                    let cut = start.map(|s| self.file.set_len(s + whole as u64));
                    self.torn = !matches!(cut, Some(Ok(())));
                }
                self.failed(lines - whole_lines, &e);
            }
        }
    }

    /// Counts `lost` lines and the failed write; logs the start of an outage.
    fn failed(&mut self, lost: u64, error: &std::io::Error) {
        self.counters.write_errors.fetch_add(1, Ordering::Relaxed);
        self.counters.dropped.fetch_add(lost, Ordering::Relaxed);
        if !self.failing {
            self.failing = true;
            tracing::error!(path = %self.path.display(), %error, "decision log lines lost: cannot write");
        }
    }
}

/// Bytes reserved for a line: a line without text or hits is 350–450.
const LINE_CAPACITY: usize = 512;

/// Everything a decision-log line needs, borrowed for the duration of the call.
#[derive(Debug)]
pub struct DecisionRecord<'a> {
    /// When the request was decided.
    pub at: SystemTime,
    /// The message as parsed.
    pub message: &'a MessageView<'a>,
    /// Every hit, shadow hits included, and the rule set that decided.
    pub decision: &'a Decision<'a>,
    /// The exact body sent to CometChat.
    pub answer: &'a [u8],
    /// Time spent in `Ruleset::evaluate`.
    pub eval: Duration,
    /// How state took part, when it did not as usual: `degraded` (the store was unavailable, the
    /// rules that need state were skipped) or `resent` (a resend: the first answer, no hits).
    pub state: Option<&'static str>,
}

impl DecisionRecord<'_> {
    /// The line for this decision, without its newline. The text and the attachment names are
    /// content: included only when the operator asked for them (`--log-text`).
    pub fn to_line(&self, log_text: bool) -> Vec<u8> {
        let decision = self.decision;
        let hits = decision.hits.iter().flat_map(LogHit::of).collect();
        let line = LogLine {
            ts: Cow::Owned(rfc3339(self.at)),
            message: LoggedMessage { view: self.message, content: log_text },
            ruleset: Cow::Borrowed(decision.ruleset.hash()),
            // Borrowed, not copied: the answer is embedded as the exact bytes sent. (The body
            // sent is always JSON; were it not, the line would say `null`.)
            answer: std::str::from_utf8(self.answer).ok().and_then(|s| serde_json::from_str(s).ok()),
            hits,
            eval_ns: u64::try_from(self.eval.as_nanos()).unwrap_or(u64::MAX),
            state: self.state.map(Cow::Borrowed),
        };
        // Sized for a typical line at once: growing from serde_json's 128 bytes copied it
        // three times.
        let mut out = Vec::with_capacity(LINE_CAPACITY);
        match serde_json::to_writer(&mut out, &line) {
            Ok(()) => out,
            Err(_) => Vec::new(),
        }
    }
}

impl<'a> LogHit<'a> {
    /// The entries of one hit: one per span; a hit without spans (by `rate`, `repeat` or
    /// conditions alone) is one entry without `field`, `start` and `end`. Each carries what the
    /// hit read from state.
    fn of(h: &'a RuleHit<'a>) -> impl Iterator<Item = LogHit<'a>> + 'a {
        let entry = move |span: Option<&MatchSpan<'_>>| LogHit {
            rule: Cow::Borrowed(h.rule.id.as_str()),
            mode: Cow::Borrowed(h.rule.mode.name()),
            field: span.map(|s| Cow::Borrowed(s.field.name())),
            index: span.and_then(|s| s.index),
            start: span.map(|s| s.start),
            end: span.map(|s| s.end),
            score: h.rule.score,
            tags: h.rule.tags.iter().map(|t| Cow::Borrowed(t.as_str())).collect(),
            state: h.state.clone(),
        };
        let spanless = h.spans.is_empty().then(|| entry(None));
        h.spans.iter().map(move |s| entry(Some(s))).chain(spanless)
    }
}

/// One decision-log line (docs/cli.md), written by the service and read back by `inflight
/// replay`. `M` carries the message: a [`LoggedMessage`] when the service writes, a
/// [`MessageView`] when replay reads.
#[derive(Debug)]
pub struct LogLine<'a, M> {
    /// When the message was decided (RFC 3339, UTC).
    pub ts: Cow<'a, str>,
    /// The message's attributes (by the schema's names), and with `--log-text` its `text` and
    /// `attachments` (names).
    pub message: M,
    /// The hash of the rule set that decided.
    pub ruleset: Cow<'a, str>,
    /// The exact body sent.
    pub answer: Option<&'a RawValue>,
    /// One entry per span of every rule that hit, shadow hits included.
    pub hits: Vec<LogHit<'a>>,
    /// Time spent in evaluation, in nanoseconds.
    pub eval_ns: u64,
    /// `degraded` or `resent` (see [`DecisionRecord::state`]); absent otherwise.
    pub state: Option<Cow<'a, str>>,
}

/// One hit of a decision-log line.
#[derive(Debug, Serialize, Deserialize)]
pub struct LogHit<'a> {
    /// The rule's id.
    #[serde(borrow)]
    pub rule: Cow<'a, str>,
    /// `enforce` or `shadow`.
    #[serde(borrow)]
    pub mode: Cow<'a, str>,
    /// The field the span is in; absent for a hit without span (`rate`, `repeat`, conditions).
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub field: Option<Cow<'a, str>>,
    /// The position in the field's list; absent for `text`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
    /// Byte offset where the span starts in the original string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<usize>,
    /// Byte offset where it ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<usize>,
    /// The rule's score.
    pub score: i64,
    /// The rule's tags.
    #[serde(borrow)]
    pub tags: Vec<Cow<'a, str>>,
    /// What the hit counted or read from state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<StateNote>,
}

/// The message as the service logs it: see [`write_message`].
#[derive(Debug)]
pub struct LoggedMessage<'a> {
    view: &'a MessageView<'a>,
    /// `--log-text`.
    content: bool,
}

/// A message a [`LogLine`] can write.
pub trait LineMessage {
    /// Writes this message's keys of `part` into `map`.
    fn write_into<M: SerializeMap>(&self, map: &mut M, part: Part) -> Result<(), M::Error>;
}

/// Which keys of the message a call writes: a line puts the attributes first and the content
/// last, so it stays readable when the text is long.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The message's attributes.
    Attributes,
    /// The text and attachment names (only with `--log-text` for the service).
    Content,
}

impl LineMessage for LoggedMessage<'_> {
    fn write_into<M: SerializeMap>(&self, map: &mut M, part: Part) -> Result<(), M::Error> {
        write_message(self.view, self.content, map, part)
    }
}

impl LineMessage for MessageView<'_> {
    /// A message read back from a line is written as it was read, its content included.
    fn write_into<M: SerializeMap>(&self, map: &mut M, part: Part) -> Result<(), M::Error> {
        write_message(self, true, map, part)
    }
}

/// Every attribute the schema says is always logged (as `null` when absent) and the others when
/// present, each under its schema name; with `content`, the text and the attachment names.
fn write_message<M: SerializeMap>(
    view: &MessageView<'_>,
    content: bool,
    map: &mut M,
    part: Part,
) -> Result<(), M::Error> {
    match part {
        Part::Attributes => {
            for (attribute, value) in view.attributes() {
                if value.is_some() || attribute.def().always_logged {
                    map.serialize_entry(attribute.name(), &value)?;
                }
            }
            // What `mentions` and `links` conditions read, so replay can decide without the text.
            let (mentions, links) = (view.mentions(), view.links());
            if mentions > 0 {
                map.serialize_entry("mentions", &mentions)?;
            }
            if links > 0 {
                map.serialize_entry("links", &links)?;
            }
        }
        Part::Content if content => {
            // `null` for a message without text, so replay knows the text was logged.
            map.serialize_entry("text", &view.text)?;
            let names: Vec<&str> = view.attachment_names().collect();
            if !names.is_empty() {
                map.serialize_entry("attachments", &names)?;
            }
        }
        Part::Content => {}
    }
    Ok(())
}

impl<M: LineMessage> Serialize for LogLine<'_, M> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("ts", &self.ts)?;
        self.message.write_into(&mut map, Part::Attributes)?;
        map.serialize_entry("ruleset", &self.ruleset)?;
        map.serialize_entry("answer", &self.answer)?;
        map.serialize_entry("hits", &self.hits)?;
        map.serialize_entry("eval_ns", &self.eval_ns)?;
        if let Some(state) = &self.state {
            map.serialize_entry("state", state)?;
        }
        self.message.write_into(&mut map, Part::Content)?;
        map.end()
    }
}

/// Reads a line back: the message's keys through the schema's flat reader, every value as
/// leniently as a webhook's.
impl<'de> Deserialize<'de> for LogLine<'de, MessageView<'de>> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = LogLine<'de, MessageView<'de>>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a decision-log line")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut line = LogLine {
                    ts: Cow::Borrowed(""),
                    message: MessageView::default(),
                    ruleset: Cow::Borrowed(""),
                    answer: None,
                    hits: Vec::new(),
                    eval_ns: 0,
                    state: None,
                };
                while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
                    match &*key {
                        "ts" => line.ts = map.next_value::<LenientStr<'de>>()?.0.unwrap_or_default(),
                        "ruleset" => line.ruleset = map.next_value::<LenientStr<'de>>()?.0.unwrap_or_default(),
                        "answer" => line.answer = map.next_value()?,
                        "hits" => line.hits = map.next_value::<LenientSeq<LogHit<'de>>>()?.0,
                        "eval_ns" => line.eval_ns = map.next_value::<Option<u64>>()?.unwrap_or(0),
                        "state" => line.state = map.next_value::<LenientStr<'de>>()?.0,
                        other => match FlatKey::of(other) {
                            Some(flat) => read_flat_value(flat, &mut map, &mut line.message)?,
                            None => skip_value(&mut map)?,
                        },
                    }
                }
                Ok(line)
            }
        }
        d.deserialize_map(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_written_in_order_one_per_record() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("decisions.jsonl");
        let log = DecisionLog::open(&path).unwrap();
        for i in 0..100 {
            assert!(log.record(format!("{{\"n\":{i}}}").into_bytes()));
        }
        assert!(log.flush(Duration::from_secs(5)));
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 100);
        assert_eq!(lines[42], "{\"n\":42}");
        assert_eq!(log.written(), 100);
        assert_eq!(log.dropped(), 0);
    }

    #[test]
    fn lines_that_cannot_be_written_are_counted_as_dropped() {
        // /dev/full accepts the open and fails every write with "no space left on device".
        let log = DecisionLog::open(Path::new("/dev/full")).unwrap();
        for i in 0..10 {
            assert!(log.record(format!("{{\"n\":{i}}}").into_bytes()), "queued");
        }
        assert!(log.flush(Duration::from_secs(5)));
        assert_eq!((log.written(), log.dropped()), (0, 10));
        assert!(log.write_errors() >= 1);
    }

    #[test]
    fn reopen_follows_log_rotation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("decisions.jsonl");
        let log = DecisionLog::open(&path).unwrap();
        log.record(b"{\"before\":1}".to_vec());
        assert!(log.flush(Duration::from_secs(5)));
        std::fs::rename(&path, dir.path().join("decisions.jsonl.1")).unwrap();
        log.reopen();
        log.record(b"{\"after\":1}".to_vec());
        assert!(log.flush(Duration::from_secs(5)));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{\"after\":1}\n");
        assert_eq!(std::fs::read_to_string(dir.path().join("decisions.jsonl.1")).unwrap(), "{\"before\":1}\n");
    }
}
