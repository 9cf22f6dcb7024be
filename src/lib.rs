//! inflight: a CometChat `before_message` webhook that moderates and enriches chat messages in
//! flight, by rules kept as TOML files.
//!
//! Two flows, each one-directional:
//! - **A request:** HTTP body → [`protocol`] (CometChat payload → `MessageView`) →
//!   [`rules::normalize`] (text per level, with offsets back to the original) →
//!   `rules::matcher` (keyword automata and regex sets) → [`rules::eval`] (`Decision`) → the
//!   answer body → HTTP.
//! - **A rule change:** files → [`rules::model`] (parse) → [`rules::compile`] (validate, build
//!   automata) → an immutable [`rules::Ruleset`] in an `Arc` → one `ArcSwap` store. That swap is
//!   the only shared mutable state in the program.

// `benches/floor.rs` is compiled both here (for `inflight bench --compare`) and in the benches,
// and names this crate `inflight` in both.
extern crate self as inflight;

pub mod cli;
pub mod decision_log;
pub mod error;
pub mod memory;
pub mod message;
pub mod protocol;
pub mod reload;
pub mod replay;
pub mod rules;
pub mod server;
pub mod state;
pub mod time;
