//! The live rule set: one `ArcSwap` holding the `Ruleset` that serves, plus what the last reload
//! said. This swap is the only shared mutable state in the program.
//!
//! Requests `load()` the current `Arc<Ruleset>` once and decide with that one, so a reload never
//! mixes two rule sets in one answer. Reloads compile off the request path and either swap in the
//! new set whole or leave the old one serving and record the error.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use arc_swap::ArcSwapOption;

use crate::error::{Diagnostic, LoadError};
use crate::rules::{Loaded, Ruleset, load_dir};

/// The rule set serving now, and the outcome of the last reload.
#[derive(Debug)]
pub struct LiveRules {
    dir: PathBuf,
    current: ArcSwapOption<Ruleset>,
    /// Written only by reloads (rare, one at a time); read by `/readyz`.
    status: Mutex<ReloadStatus>,
}

/// What `/readyz` and the metrics report about reloads.
#[derive(Debug, Clone, Default)]
pub struct ReloadStatus {
    /// The last reload's error (first diagnostic, `file:line:col: …`), cleared by a good reload.
    pub last_error: Option<String>,
    /// When it happened.
    pub last_error_at: Option<SystemTime>,
}

/// The result of one reload attempt.
#[derive(Debug)]
pub enum ReloadOutcome {
    /// The new rule set serves now.
    Swapped {
        /// Its hash.
        hash: String,
        /// How many warnings it loaded with.
        warnings: usize,
        /// How long reading and compiling took.
        compile: Duration,
    },
    /// The files compiled to the rule set already serving; nothing changed.
    Unchanged {
        /// The hash serving.
        hash: String,
    },
    /// The files did not compile; the previous rule set (if any) keeps serving.
    Failed(LoadError),
}

impl LiveRules {
    /// A holder with nothing loaded yet.
    pub fn empty(dir: impl Into<PathBuf>) -> Self {
        LiveRules { dir: dir.into(), current: ArcSwapOption::empty(), status: Mutex::new(ReloadStatus::default()) }
    }

    /// Loads `dir` once, to start serving; returns the holder and the load's warnings. The error
    /// lists every diagnostic.
    pub fn load(dir: impl Into<PathBuf>) -> Result<(Self, Vec<Diagnostic>), LoadError> {
        let dir = dir.into();
        let Loaded { ruleset, warnings } = load_dir(&dir)?;
        // Before the first request, so none waits for a regex to be built.
        ruleset.compile_regexes();
        let live = LiveRules::empty(dir);
        live.current.store(Some(Arc::new(ruleset)));
        Ok((live, warnings))
    }

    /// The rules folder watched.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The rule set serving now, if any. Take it once per request.
    pub fn current(&self) -> Option<Arc<Ruleset>> {
        self.current.load_full()
    }

    /// The rule set serving now, for the request path: unlike `current`, this does not touch the
    /// shared reference count, which would bounce between cores under load. Hold it only while
    /// deciding one request (not across an `.await`).
    pub fn guard(&self) -> arc_swap::Guard<Option<Arc<Ruleset>>> {
        self.current.load()
    }

    /// What `/readyz` reports about reloads now.
    pub fn status(&self) -> ReloadStatus {
        self.status.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Reads and compiles the folder (on the calling thread: call it off the request path) and
    /// swaps the result in, or keeps the old set and records the error.
    pub fn reload(&self) -> ReloadOutcome {
        self.reload_retiring().0
    }

    /// `reload`, also handing back the rule set it swapped out, so the caller decides where it is
    /// freed: dropped inside the swap, the last request still holding it would free it.
    fn reload_retiring(&self) -> (ReloadOutcome, Option<Arc<Ruleset>>) {
        let started = Instant::now();
        let result = load_dir(&self.dir);
        let mut status = match self.status.lock() {
            Ok(s) => s,
            Err(poisoned) => poisoned.into_inner(),
        };
        match result {
            Ok(mut loaded) => {
                status.last_error = None;
                status.last_error_at = None;
                let hash = loaded.ruleset.hash().to_owned();
                if self.current.load().as_ref().is_some_and(|rs| rs.hash() == hash) {
                    return (ReloadOutcome::Unchanged { hash }, None);
                }
                let warnings = loaded.warnings.len();
                // Built before the swap, here on the reload thread: no request ever builds a
                // regex (docs/service.md). `/readyz` reads the status meanwhile.
                drop(status);
                if let Some(serving) = self.current.load().as_deref() {
                    loaded.ruleset.keep_unchanged_regexes(serving);
                }
                loaded.ruleset.compile_regexes();
                let compile = started.elapsed();
                let old = self.current.swap(Some(Arc::new(loaded.ruleset)));
                (ReloadOutcome::Swapped { hash, warnings, compile }, old)
            }
            Err(err) => {
                status.last_error = err.first().map(ToString::to_string).or_else(|| Some(err.to_string()));
                status.last_error_at = Some(SystemTime::now());
                (ReloadOutcome::Failed(err), None)
            }
        }
    }
}

/// Why a reload was asked for.
#[derive(Debug, Clone, Copy)]
pub enum Trigger {
    /// Files changed; `first_event` is when the earliest change of the burst happened.
    Files {
        /// When the burst began.
        first_event: Instant,
    },
    /// `SIGHUP`, or another explicit request.
    Signal,
}

/// What one reload did, for logs and metrics.
#[derive(Debug)]
pub struct ReloadReport {
    /// Why it ran.
    pub trigger: Trigger,
    /// What it did.
    pub outcome: ReloadOutcome,
    /// From the first file event of the burst to the end of the reload (the swap, when one
    /// happened); `None` for a signal.
    pub since_first_event: Option<Duration>,
}

/// How long the folder must stay quiet before a burst of events (an editor's save, `git pull`,
/// `rsync`) is reloaded once.
pub const DEFAULT_DEBOUNCE: Duration = Duration::from_millis(100);
/// How often the watch checks that the rules path still names the folder it watches (a folder
/// replaced by rename, a symlink re-pointed, a folder gone or back).
const REWATCH_INTERVAL: Duration = Duration::from_millis(250);

/// The reload thread's name, as `/proc/<pid>/task/<tid>/comm` shows it.
pub const RELOAD_THREAD_NAME: &str = "inflight-reload";
/// The reload thread's nice value: the lowest priority. A 50,000-keyword compile takes a core for
/// about half a second; at nice 0 it takes that core from the request workers (p99 0.3–0.5 → ~2
/// ms while a pack recompiles every 3 s, issue 14), at 19 it runs on what they leave idle. The
/// cost: on a machine kept busy by others, a reload waits (BENCHMARKS.md, "Where the time
/// goes").
pub const RELOAD_NICE: i32 = 19;

/// Gives the calling thread (the reload thread) the lowest CPU priority. On Linux a nice value
/// set on a thread id applies to that thread alone. Failing only costs latency, so it is logged.
fn lower_priority() {
    let tid = rustix::thread::gettid();
    if let Err(e) = rustix::process::setpriority_process(Some(tid), RELOAD_NICE) {
        tracing::warn!(error = %e, "cannot lower the reload thread's priority; reloads compete with requests");
    }
}

/// Rule sets swapped out but maybe still held by requests. The reload thread keeps a reference
/// and lets go once it is the last holder, so freeing a large rule set (tens of MiB, thousands of
/// allocations) happens here, never on a request that happened to finish last.
#[derive(Default)]
struct Retired(Vec<Arc<Ruleset>>);

impl Retired {
    fn hold(&mut self, old: Option<Arc<Ruleset>>) {
        self.0.extend(old);
    }

    /// Drops every rule set no request holds any more; true when it dropped one. A swapped-out
    /// set cannot gain holders (nothing can load it from the swap), so a count of one stays one.
    fn release(&mut self) -> bool {
        let before = self.0.len();
        self.0.retain(|rs| Arc::strong_count(rs) > 1);
        self.0.len() < before
    }
}

/// Asks the reload thread for a reload; cheap to clone, usable from a signal handler task.
#[derive(Debug, Clone)]
pub struct ReloadHandle {
    tx: std::sync::mpsc::Sender<Trigger>,
}

impl ReloadHandle {
    /// Queues a reload; returns false when the reload thread is gone.
    pub fn request(&self, trigger: Trigger) -> bool {
        self.tx.send(trigger).is_ok()
    }
}

/// Starts watching `live`'s folder on a dedicated thread (never an HTTP worker): every change
/// burst and every `ReloadHandle::request` compiles the folder and swaps the result in, or keeps
/// the old set. `report` is called on that thread after each reload.
///
/// The watch follows the path, not the folder: a watch sits on a folder's inode, so after
/// `mv rules rules-old; mv rules-next rules` it would go on hearing `rules-old`. On every event
/// and every `REWATCH_INTERVAL` the thread checks which folder the path names now, and when that
/// changed it re-arms the watch there and reloads. A `SIGHUP` re-arms it too.
pub fn spawn_watcher(
    live: Arc<LiveRules>,
    debounce: Duration,
    mut report: impl FnMut(&ReloadReport) + Send + 'static,
) -> std::io::Result<ReloadHandle> {
    let (tx, rx) = std::sync::mpsc::channel::<Trigger>();
    let handle = ReloadHandle { tx: tx.clone() };
    // The watch is set up before this returns, so an edit made right after start is seen.
    let mut watch = FolderWatch::new(live.dir().to_path_buf(), debounce, tx);
    std::thread::Builder::new().name(RELOAD_THREAD_NAME.into()).spawn(move || {
        lower_priority();
        // The first load's scratch is free by now.
        crate::memory::purge_freed_pages();
        let mut retired = Retired::default();
        let mut arenas = crate::memory::RuleSetArenas::new();
        loop {
            // `watch` holds a sender, so the channel never closes: `None` only means a timeout.
            let waited = rx.recv_timeout(REWATCH_INTERVAL).ok();
            let reloaded = match next_reload(waited, &rx, &mut watch) {
                Some(trigger) => {
                    arenas.use_spare();
                    let done = run_reload(&live, trigger, &mut retired);
                    if matches!(done.outcome, ReloadOutcome::Swapped { .. }) {
                        arenas.swapped();
                    }
                    report(&done);
                    true
                }
                None => false,
            };
            // After a reload its compile's scratch is free, whatever the outcome.
            if retired.release() || reloaded {
                crate::memory::purge_freed_pages();
            }
        }
    })?;
    Ok(handle)
}

/// Whether a reload is due, and why: the requests queued (coalesced into one), or the rules path
/// naming another folder than the one watched. Re-arms the watch first when the path changed or
/// a signal asks, so an edit made during the reload is not missed.
fn next_reload(
    waited: Option<Trigger>,
    rx: &std::sync::mpsc::Receiver<Trigger>,
    watch: &mut FolderWatch,
) -> Option<Trigger> {
    let mut trigger = waited;
    while let Ok(next) = rx.try_recv() {
        trigger = Some(trigger.map_or(next, |t| earliest(t, next)));
    }
    let signalled = matches!(trigger, Some(Trigger::Signal));
    if signalled || watch.is_stale() {
        let was_watching = watch.watched.is_some();
        watch.restart();
        if watch.debouncer.is_some() && !signalled {
            tracing::info!(dir = %watch.dir.display(), was_watching, "the rules path names another folder: watching it");
        }
        trigger.get_or_insert(Trigger::Signal);
    }
    trigger
}

fn run_reload(live: &LiveRules, trigger: Trigger, retired: &mut Retired) -> ReloadReport {
    let (outcome, old) = live.reload_retiring();
    retired.hold(old);
    let since_first_event = match trigger {
        Trigger::Files { first_event } => Some(first_event.elapsed()),
        Trigger::Signal => None,
    };
    ReloadReport { trigger, outcome, since_first_event }
}

fn earliest(a: Trigger, b: Trigger) -> Trigger {
    match (a, b) {
        (Trigger::Files { first_event: x }, Trigger::Files { first_event: y }) => {
            Trigger::Files { first_event: x.min(y) }
        }
        (files @ Trigger::Files { .. }, Trigger::Signal) | (Trigger::Signal, files @ Trigger::Files { .. }) => files,
        (Trigger::Signal, Trigger::Signal) => Trigger::Signal,
    }
}

type Debouncer = notify_debouncer_full::Debouncer<notify::RecommendedWatcher, notify_debouncer_full::RecommendedCache>;

/// The debounced recursive watch on the folder the rules path names, restartable when the path
/// names another folder or none.
struct FolderWatch {
    dir: PathBuf,
    debounce: Duration,
    tx: std::sync::mpsc::Sender<Trigger>,
    debouncer: Option<Debouncer>,
    /// The folder watched, `None` when none is.
    watched: Option<FolderId>,
}

/// A folder's identity: its device and inode, which a rename keeps and a replacement changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FolderId {
    dev: u64,
    ino: u64,
}

impl FolderId {
    /// The folder `path` names now (following symlinks), if it names one.
    fn of(path: &Path) -> Option<FolderId> {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(path).ok().filter(std::fs::Metadata::is_dir)?;
        Some(FolderId { dev: meta.dev(), ino: meta.ino() })
    }
}

impl FolderWatch {
    fn new(dir: PathBuf, debounce: Duration, tx: std::sync::mpsc::Sender<Trigger>) -> Self {
        let mut watch = FolderWatch { dir, debounce, tx, debouncer: None, watched: None };
        watch.start();
        if watch.watched.is_none() {
            tracing::warn!(dir = %watch.dir.display(), "cannot watch the rules folder yet; will retry");
        }
        watch
    }

    /// Whether the path names another folder than the one watched (or one when none is).
    fn is_stale(&self) -> bool {
        FolderId::of(&self.dir) != self.watched
    }

    fn restart(&mut self) {
        if let Some(d) = self.debouncer.take() {
            d.stop_nonblocking();
        }
        self.watched = None;
        self.start();
    }

    /// Watches the folder the path names now, if any. Its identity is taken before the watch
    /// starts: a swap in between shows as stale at the next check and is re-armed then.
    fn start(&mut self) {
        let Some(id) = FolderId::of(&self.dir) else { return };
        let tx = self.tx.clone();
        let handler = move |result: notify_debouncer_full::DebounceEventResult| match result {
            Ok(events) => {
                let relevant = events.iter().filter(|e| is_relevant(e));
                if let Some(first_event) = relevant.map(|e| e.time).min() {
                    let _ = tx.send(Trigger::Files { first_event });
                }
            }
            Err(errors) => {
                for e in errors {
                    tracing::warn!(error = %e, "rules folder watch error");
                }
                // The watch may have lost track: re-arm and reload to be sure.
                let _ = tx.send(Trigger::Signal);
            }
        };
        let started = notify_debouncer_full::new_debouncer(self.debounce, None, handler).and_then(|mut d| {
            d.watch(&self.dir, notify::RecursiveMode::Recursive)?;
            Ok(d)
        });
        match started {
            Ok(d) => {
                self.debouncer = Some(d);
                self.watched = Some(id);
            }
            Err(e) => {
                tracing::warn!(dir = %self.dir.display(), error = %e, "cannot watch the rules folder; SIGHUP retries");
                // Counted as watched, so the check does not retry (and reload) every interval.
                self.watched = Some(id);
            }
        }
    }
}

/// Whether a file event can change the rules: anything but reads, and anything but editors'
/// scratch files. ConfigMap mounts change only `..data`-style entries, so those count too.
fn is_relevant(event: &notify_debouncer_full::DebouncedEvent) -> bool {
    use notify::EventKind;
    if matches!(event.kind, EventKind::Access(_)) {
        return false;
    }
    event.paths.is_empty() || event.paths.iter().any(|p| !is_editor_scratch(p))
}

fn is_editor_scratch(path: &Path) -> bool {
    let name = path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
    name.ends_with(".swp") || name.ends_with(".swx") || name.ends_with('~') || name == "4913"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_retired_rule_set_is_dropped_only_once_no_request_holds_it() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("a.toml"), "[[rule]]\nid = \"a\"\nkeywords = [\"apple\"]\n").expect("write");
        let ruleset = Arc::new(load_dir(dir.path()).expect("loads").ruleset);
        let request = Arc::clone(&ruleset);
        let mut retired = Retired::default();
        retired.hold(Some(ruleset));
        retired.release();
        assert_eq!(Arc::strong_count(&request), 2, "a request still holds it: kept");
        drop(request);
        retired.release();
        assert!(retired.0.is_empty());
    }
}
