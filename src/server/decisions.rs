//! The hook where each `before_message` decision leaves the request path for the decision log
//! (`--decision-log FILE`, docs/service.md). The server calls a `DecisionSink` once per decided
//! message; `DecisionLogSink` connects it to the file writer of `crate::decision_log`.

use crate::decision_log::DecisionLog;
pub use crate::decision_log::DecisionRecord;

/// Receives every decision. Called on a server worker thread while the request waits, so an
/// implementation must not block: copy what it needs and hand it to a writer thread. It must
/// leave the message text out unless it was built with `--log-text`.
pub trait DecisionSink: Send + Sync + std::fmt::Debug {
    /// Takes one decision.
    fn record(&self, record: &DecisionRecord<'_>);

    /// Lines written so far, and lines lost (the queue was full, or the write failed), for
    /// `/metrics`: a lost line is counted, never silent.
    fn counts(&self) -> SinkCounts {
        SinkCounts::default()
    }
}

/// What a sink has done with the decisions it was given.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SinkCounts {
    /// Lines in the file.
    pub written: u64,
    /// Lines lost.
    pub dropped: u64,
}

/// The decision log file as a sink: the line is formatted on the request thread and queued for
/// the writer thread, which never makes the request wait.
#[derive(Debug)]
pub struct DecisionLogSink {
    log: DecisionLog,
    log_text: bool,
}

impl DecisionLogSink {
    /// `log_text`: include the message text in each line (`--log-text`).
    pub fn new(log: DecisionLog, log_text: bool) -> DecisionLogSink {
        DecisionLogSink { log, log_text }
    }

    /// The decision log behind the sink.
    pub fn log(&self) -> &DecisionLog {
        &self.log
    }
}

impl DecisionSink for DecisionLogSink {
    fn record(&self, r: &DecisionRecord<'_>) {
        // A full queue drops the line and counts it (`DecisionLog::dropped`).
        self.log.record(r.to_line(self.log_text));
    }

    fn counts(&self) -> SinkCounts {
        SinkCounts { written: self.log.written(), dropped: self.log.dropped() }
    }
}
