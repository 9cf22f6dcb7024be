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
    pub last_error_at: Option<SystemTime>,
    pub reloads_ok: u64,
    pub reloads_failed: u64,
}

/// The result of one reload attempt.
#[derive(Debug)]
pub enum ReloadOutcome {
    /// The new rule set serves now.
    Swapped { hash: String, warnings: usize, compile: Duration },
    /// The files compiled to the rule set already serving; nothing changed.
    Unchanged { hash: String },
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
        let live = LiveRules::empty(dir);
        live.current.store(Some(Arc::new(ruleset)));
        Ok((live, warnings))
    }

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

    pub fn status(&self) -> ReloadStatus {
        self.status.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Reads and compiles the folder (on the calling thread: call it off the request path) and
    /// swaps the result in, or keeps the old set and records the error.
    pub fn reload(&self) -> ReloadOutcome {
        let started = Instant::now();
        let result = load_dir(&self.dir);
        let compile = started.elapsed();
        let mut status = match self.status.lock() {
            Ok(s) => s,
            Err(poisoned) => poisoned.into_inner(),
        };
        match result {
            Ok(loaded) => {
                status.last_error = None;
                status.last_error_at = None;
                status.reloads_ok += 1;
                let hash = loaded.ruleset.hash().to_owned();
                if self.current.load().as_ref().is_some_and(|rs| rs.hash() == hash) {
                    return ReloadOutcome::Unchanged { hash };
                }
                let warnings = loaded.warnings.len();
                self.current.store(Some(Arc::new(loaded.ruleset)));
                ReloadOutcome::Swapped { hash, warnings, compile }
            }
            Err(err) => {
                status.last_error = err.first().map(ToString::to_string).or_else(|| Some(err.to_string()));
                status.last_error_at = Some(SystemTime::now());
                status.reloads_failed += 1;
                ReloadOutcome::Failed(err)
            }
        }
    }
}

/// Why a reload was asked for.
#[derive(Debug, Clone, Copy)]
pub enum Trigger {
    /// Files changed; `first_event` is when the earliest change of the burst happened.
    Files { first_event: Instant },
    /// `SIGHUP`, or another explicit request.
    Signal,
}

/// What one reload did, for logs and metrics.
#[derive(Debug)]
pub struct ReloadReport {
    pub trigger: Trigger,
    pub outcome: ReloadOutcome,
    /// From the first file event of the burst to the end of the reload (the swap, when one
    /// happened); `None` for a signal.
    pub since_first_event: Option<Duration>,
}

/// How long the folder must stay quiet before a burst of events (an editor's save, `git pull`,
/// `rsync`) is reloaded once.
pub const DEFAULT_DEBOUNCE: Duration = Duration::from_millis(100);
/// How often a vanished rules folder is looked for again.
const REWATCH_INTERVAL: Duration = Duration::from_millis(250);

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
pub fn spawn_watcher(
    live: Arc<LiveRules>,
    debounce: Duration,
    mut report: impl FnMut(&ReloadReport) + Send + 'static,
) -> std::io::Result<ReloadHandle> {
    let (tx, rx) = std::sync::mpsc::channel::<Trigger>();
    let handle = ReloadHandle { tx: tx.clone() };
    // The watch is set up before this returns, so an edit made right after start is seen.
    let mut watch = FolderWatch::new(live.dir().to_path_buf(), debounce, tx);
    std::thread::Builder::new().name("inflight-reload".into()).spawn(move || {
        loop {
            // While the folder is missing, look for it again now and then; a reload is due
            // when it comes back.
            let waited = if watch.is_active() { rx.recv().ok() } else { rx.recv_timeout(REWATCH_INTERVAL).ok() };
            if !watch.is_active() && watch.try_start() {
                tracing::info!(dir = %live.dir().display(), "rules folder is back; watching it again");
                let report_now = run_reload(&live, Trigger::Signal);
                report(&report_now);
            }
            // `watch` holds a sender, so the channel never closes: `None` only means a timeout.
            let Some(first) = waited else { continue };
            // Coalesce whatever else queued up meanwhile into this one reload.
            let mut trigger = first;
            while let Ok(next) = rx.try_recv() {
                trigger = earliest(trigger, next);
            }
            let done = run_reload(&live, trigger);
            if matches!(&done.outcome, ReloadOutcome::Failed(_)) && !live.dir().is_dir() {
                watch.stop();
            }
            report(&done);
        }
    })?;
    Ok(handle)
}

fn run_reload(live: &LiveRules, trigger: Trigger) -> ReloadReport {
    let outcome = live.reload();
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

/// The debounced recursive watch on the rules folder, restartable when the folder vanishes.
struct FolderWatch {
    dir: PathBuf,
    debounce: Duration,
    tx: std::sync::mpsc::Sender<Trigger>,
    debouncer: Option<Debouncer>,
}

impl FolderWatch {
    fn new(dir: PathBuf, debounce: Duration, tx: std::sync::mpsc::Sender<Trigger>) -> Self {
        let mut watch = FolderWatch { dir, debounce, tx, debouncer: None };
        if !watch.try_start() {
            tracing::warn!(dir = %watch.dir.display(), "cannot watch the rules folder yet; will retry");
        }
        watch
    }

    fn is_active(&self) -> bool {
        self.debouncer.is_some()
    }

    fn stop(&mut self) {
        if let Some(d) = self.debouncer.take() {
            d.stop_nonblocking();
        }
    }

    fn try_start(&mut self) -> bool {
        if self.debouncer.is_some() {
            return true;
        }
        if !self.dir.is_dir() {
            return false;
        }
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
                // The watch may have lost track (e.g. the folder was replaced): reload to be sure.
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
                true
            }
            Err(e) => {
                tracing::warn!(dir = %self.dir.display(), error = %e, "cannot watch the rules folder");
                false
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
