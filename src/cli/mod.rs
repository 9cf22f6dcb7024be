//! The command line (INTERFACE.md §7): one file per subcommand. Values are validated by clap
//! before any work; errors come back as one line with context (anyhow) and an exit code.

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
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Load and compile the rules; print errors and warnings with file:line.
    Check(RulesArg),
    /// Run every `examples` and `[[case]]` in the rules; print failures with the explanation.
    Test(RulesArg),
    /// Decide one message and explain why.
    Eval(eval::EvalArgs),
    /// Serve the CometChat webhook.
    Serve(serve::ServeArgs),
    /// Run recorded messages through the rules; with --against, show what a change would change.
    Replay(replay::ReplayArgs),
    /// Time the evaluation of each message in process.
    Bench(bench::BenchArgs),
}

#[derive(Debug, clap::Args)]
pub struct RulesArg {
    /// The rules folder.
    #[arg(long, env = "INFLIGHT_RULES", default_value = "rules")]
    pub rules: PathBuf,
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

/// Loads a rules folder for a command that needs it to compile, printing warnings to stderr.
pub(crate) fn load_rules(dir: &std::path::Path) -> anyhow::Result<Loaded> {
    match load_dir(dir) {
        Ok(loaded) => {
            for w in &loaded.warnings {
                eprintln!("{w}");
            }
            Ok(loaded)
        }
        Err(LoadError(diags)) => {
            // One problem is one line (the `error:` prefix comes from `main`); several are
            // listed, then summed up.
            if let [only] = diags.as_slice() {
                eprintln!("{only}");
                return Err(Reported.into());
            }
            for d in &diags {
                eprintln!("{d}");
            }
            let errors = diags.iter().filter(|d| d.is_error()).count();
            anyhow::bail!("rules in {} do not load: {errors} error(s)", dir.display())
        }
    }
}

/// An error already printed to stderr in full; `main` only sets the exit code.
#[derive(Debug, thiserror::Error)]
#[error("(reported above)")]
pub struct Reported;
