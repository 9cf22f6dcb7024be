//! The `inflight` binary: parse the command line, run, map the result to an exit code.
//!
//! Exit codes: 0 success; 1 the command's check failed (`check` found errors, `test` a failure);
//! 2 the command could not run (bad arguments, unreadable input, rules that do not load).

use std::process::ExitCode;

/// jemalloc, not glibc's malloc: a reload frees a whole rule set and a compile's scratch (tens of
/// MiB), which glibc kept (resident 70 → 200 MiB over 100 reloads of a 50,000-keyword pack) while
/// jemalloc gives it back when the reload thread asks (`reload::spawn_watcher`). Requests are no
/// slower (BENCHMARKS.md, Allocator).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    match inflight::cli::run() {
        Ok(code) => code,
        // The reader went away (`inflight eval … | head`): nothing left to say to it.
        Err(e) if e.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe) => {
            ExitCode::SUCCESS
        }
        Err(e) => {
            let reported_alone = e.downcast_ref::<inflight::cli::Reported>().is_some() && e.chain().count() == 1;
            if !reported_alone {
                eprintln!("error: {e:#}");
            }
            ExitCode::from(2)
        }
    }
}
