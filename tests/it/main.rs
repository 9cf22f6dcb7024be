//! Black-box tests, built into one test binary: the CLI on fixture folders, the HTTP service on
//! a real server, hot reload by editing real files.

mod bench_cli;
mod cli;
mod console;
mod dictionary;
mod engine_props;
mod evasion;
mod http;
mod leaks;
mod props;
mod reliability;
mod reload;
mod replay;
mod state;
mod state_props;
mod support;
mod tuning;
