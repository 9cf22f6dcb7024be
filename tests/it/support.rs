//! Helpers shared by the black-box tests.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The `inflight` binary built for this test run.
pub fn inflight() -> Command {
    Command::new(env!("CARGO_BIN_EXE_inflight"))
}

/// Runs `inflight ARGS` and returns its output.
pub fn run(args: &[&str]) -> Output {
    inflight().args(args).output().expect("inflight runs")
}

/// The project root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `../shared/fixtures/cometchat/NAME`, the CometChat bodies shared with the design docs.
pub fn fixture(name: &str) -> PathBuf {
    root().join("../shared/fixtures/cometchat").join(name)
}

/// Every fixture file name, sorted.
pub fn fixture_names() -> Vec<String> {
    let dir = root().join("../shared/fixtures/cometchat");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("fixtures folder exists beside the project")
        .map(|e| e.expect("dir entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    names.sort();
    names
}

/// `tests/data/NAME`.
pub fn data(name: &str) -> PathBuf {
    root().join("tests/data").join(name)
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Writes `files` (relative path → content) into a fresh temporary folder.
pub fn rules_dir(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for (name, content) in files {
        write(dir.path(), name, content);
    }
    dir
}

pub fn write(dir: &Path, name: &str, content: &str) {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("create parent");
    }
    std::fs::write(path, content).expect("write file");
}
