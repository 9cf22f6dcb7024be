//! The command line (docs/cli.md): one file per subcommand. Values are validated by clap
//! before any work; errors come back as one line with context (anyhow) and an exit code.

/// `println!` and `print!` that return a closed stdout (`inflight eval … | head`) as an error
/// instead of panicking; `main` ends quietly on it, as `grep` would.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout(), $($arg)*)?
    }};
}
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        write!(std::io::stdout(), $($arg)*)?
    }};
}

mod bench;
mod check;
pub mod eval;
mod jsonl;
mod replay;
mod serve;
mod test;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::error::LoadError;
use crate::rules::{Loaded, load_dir};

#[derive(Debug, Parser)]
#[command(
    name = "inflight",
    version,
    about = "Moderate and enrich CometChat messages in flight, by rules kept as TOML files"
)]
/// The command line as clap reads it.
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Load and compile the rules; print errors and warnings with file:line.
    Check(RulesArg),
    /// Run every `examples` and `[[case]]` in the rules; print failures with the explanation.
    Test(RulesArg),
    /// Decide one message and explain why.
    Eval(eval::EvalArgs),
    /// Serve the CometChat webhook.
    // Boxed: its many flags make it several times larger than the others.
    Serve(Box<serve::ServeArgs>),
    /// Run recorded messages through the rules; with --against, show what a change would change.
    Replay(replay::ReplayArgs),
    /// Time the evaluation of each message in process.
    Bench(bench::BenchArgs),
}

/// `--rules DIR`, shared by every subcommand that reads a rules folder.
#[derive(Debug, Clone, clap::Args)]
pub struct RulesArg {
    /// The rules folder.
    #[arg(id = "rules", long = "rules", value_name = "DIR", env = "INFLIGHT_RULES", default_value = "rules")]
    pub dir: PathBuf,
}

impl RulesArg {
    /// Loads the folder for a command that needs it to compile, printing warnings to stderr.
    pub(crate) fn load(&self) -> anyhow::Result<Loaded> {
        match load_dir(&self.dir) {
            Ok(loaded) => {
                for w in &loaded.warnings {
                    eprintln!("{w}");
                }
                Ok(loaded)
            }
            Err(err) => Err(load_failed(&self.dir, &err)),
        }
    }
}

/// Parses the command line and runs the command.
pub fn run() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    match cli.command {
        Command::Check(args) => check::run(&args),
        Command::Test(args) => test::run(&args),
        Command::Eval(args) => eval::run(&args),
        Command::Serve(args) => serve::run(&args),
        Command::Replay(args) => replay::run(&args),
        Command::Bench(args) => bench::run(&args),
    }
}

/// The one way a rules folder that does not load is reported: every diagnostic on stderr, one a
/// line, and the error to return. A single problem is its own summary (the `error:` prefix comes
/// from `main`); several are summed up.
pub(crate) fn load_failed(dir: &std::path::Path, err: &LoadError) -> anyhow::Error {
    if let [only] = err.0.as_slice() {
        eprintln!("{only}");
        return Reported.into();
    }
    for d in &err.0 {
        eprintln!("{d}");
    }
    anyhow::anyhow!("rules in {} do not load: {} error(s)", dir.display(), err.error_count())
}

/// An error already printed to stderr in full: `main` only sets the exit code, unless a caller
/// added context to it.
#[derive(Debug, thiserror::Error)]
#[error("the rules do not load (see above)")]
pub struct Reported;
