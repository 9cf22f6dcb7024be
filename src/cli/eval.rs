//! `inflight eval`: decide one message and explain it the way a moderator needs it: the
//! normalized text per level, each hit with its rule, pattern, span, original words, score, tags
//! and mode, the total against `drop_score`, and the answer. `--json` prints only the answer.

use std::borrow::Cow;
use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use super::RulesArg;
use crate::protocol::{MessageView, Request, parse_message, parse_request};
use crate::rules::explain::Explanation;
use crate::rules::{Decision, Ruleset};

/// `inflight eval`'s arguments.
#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// `--rules DIR`.
    #[command(flatten)]
    pub rules: RulesArg,
    /// A webhook body or message object to decide (`-` reads stdin).
    #[arg(long, conflicts_with = "text")]
    pub payload: Option<PathBuf>,
    /// Print only the response body CometChat would get.
    #[arg(long)]
    pub json: bool,
    /// The message text to decide.
    #[arg(required_unless_present = "payload")]
    pub text: Option<String>,
}

/// Decides the message and prints the explanation, or with `--json` the answer.
pub fn run(args: &EvalArgs) -> anyhow::Result<ExitCode> {
    let loaded = args.rules.load()?;
    let ruleset = &loaded.ruleset;
    let body = match &args.payload {
        Some(path) => Some(read_payload(path)?),
        None => None,
    };
    let request = match (&body, &args.text) {
        (Some(body), _) => payload_request(body).with_context(|| format!("cannot read payload {}", display(args)))?,
        (None, Some(text)) => {
            Request { trigger: Some(Cow::Borrowed("before_message")), message: MessageView::with_text(text.as_str()) }
        }
        (None, None) => anyhow::bail!("give a TEXT or --payload FILE"),
    };
    if !request.is_before_message() {
        let trigger = request.trigger.as_deref().unwrap_or("(none)");
        if args.json {
            outln!("{{}}");
        } else {
            outln!("trigger {trigger:?} is not before_message: acknowledged with {{}}, never matched");
        }
        return Ok(ExitCode::SUCCESS);
    }
    // Empty state, at the wall clock: every window counts this message alone, counters are 0,
    // the sender was never seen (its age counts from `createdAt` when the payload carries it).
    let decision = ruleset.evaluate_at(&request.message, crate::time::now_ms());
    if args.json {
        outln!("{}", String::from_utf8_lossy(&decision.answer_json()));
    } else {
        out!("{}", explain(ruleset, &request.message, &decision));
    }
    Ok(ExitCode::SUCCESS)
}

fn display(args: &EvalArgs) -> String {
    args.payload.as_ref().map(|p| p.display().to_string()).unwrap_or_default()
}

fn read_payload(path: &PathBuf) -> anyhow::Result<Vec<u8>> {
    if path.as_os_str() == "-" {
        let mut buf = Vec::new();
        std::io::stdin().read_to_end(&mut buf).context("cannot read stdin")?;
        Ok(buf)
    } else {
        std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
    }
}

/// A webhook body, or a bare message object (one without `trigger` and `data`).
fn payload_request(body: &[u8]) -> anyhow::Result<Request<'_>> {
    let request = parse_request(body)?;
    if request.trigger.is_some() {
        return Ok(request);
    }
    let text = std::str::from_utf8(body)?;
    let message = parse_message(text)?;
    Ok(Request { trigger: Some(Cow::Borrowed("before_message")), message })
}

/// The human explanation of a decision (see [`Explanation`]).
pub fn explain(ruleset: &Ruleset, msg: &MessageView<'_>, decision: &Decision<'_>) -> String {
    Explanation::new(ruleset, msg, decision).to_string()
}
