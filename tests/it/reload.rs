//! Hot reload (docs/service.md) against the real `inflight serve` binary: rule files are edited
//! the ways editors, `git`, `rsync` and Kubernetes really change them while a bounded load loop
//! keeps calling the webhook. Every answer must be exactly what the library decides with one
//! complete version of the files (never a mix), and no request may fail.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{ServeProcess, agent, before_message, library_answer, rules_dir, write};

/// A rule pack whose tags carry `version`, so an answer shows which version decided it.
pub(crate) fn pack(name: &str, version: &str) -> String {
    format!(
        r#"
[[rule]]
id = "{name}.apple"
keywords = ["apple"]
score = 10
tags = ["{name}-{version}"]
"#
    )
}

pub(crate) const BODY_TEXT: &str = "an apple a day";

/// Calls the webhook in a loop (bounded in count and time) and keeps every answer.
pub(crate) struct Load {
    stop: Arc<AtomicBool>,
    answers: Arc<Mutex<Vec<(u16, String)>>>,
    worker: Option<thread::JoinHandle<()>>,
}

impl Load {
    pub(crate) fn start(serve: &ServeProcess) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let answers = Arc::new(Mutex::new(Vec::new()));
        let url = serve.url("/webhook");
        let (stop2, answers2) = (Arc::clone(&stop), Arc::clone(&answers));
        let worker = thread::spawn(move || {
            let agent = agent();
            let body = before_message(BODY_TEXT);
            let deadline = Instant::now() + Duration::from_secs(120);
            for _ in 0..200_000 {
                if stop2.load(Ordering::Relaxed) || Instant::now() > deadline {
                    break;
                }
                let answer = match agent.post(&url).header("content-type", "application/json").send(&body[..]) {
                    Ok(mut r) => (r.status().as_u16(), r.body_mut().read_to_string().unwrap_or_default()),
                    Err(e) => (0, e.to_string()),
                };
                answers2.lock().expect("answers").push(answer);
            }
        });
        Load { stop, answers, worker: Some(worker) }
    }

    pub(crate) fn finish(mut self) -> Vec<(u16, String)> {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(w) = self.worker.take() {
            w.join().expect("load loop");
        }
        std::mem::take(&mut *self.answers.lock().expect("answers"))
    }
}

/// The answers each complete version of the files gives, keyed by rule set hash: computed by
/// the library on a copy of that version, laid out under the same names.
pub(crate) fn expected(versions: &[&[(&str, &str)]]) -> HashMap<String, String> {
    let body = before_message(BODY_TEXT);
    versions
        .iter()
        .map(|files| {
            let dir = rules_dir(files);
            let hash = inflight::rules::load_dir(dir.path()).expect("version loads").ruleset.hash().to_owned();
            (hash, library_answer(dir.path(), &body))
        })
        .collect()
}

/// Every answer is a 200 whose body is exactly the answer of the version its hash names.
pub(crate) fn assert_consistent(answers: &[(u16, String)], expected: &HashMap<String, String>) {
    assert!(!answers.is_empty(), "the load loop made no request");
    let failed: Vec<_> = answers.iter().filter(|(status, _)| *status != 200).collect();
    assert!(failed.is_empty(), "{} of {} requests failed, e.g. {:?}", failed.len(), answers.len(), failed.first());
    for (_, body) in answers {
        let json: Value = serde_json::from_str(body).expect("answer is JSON");
        let hash = json["ruleset"].as_str().unwrap_or_else(|| panic!("answer without ruleset: {body}"));
        let want =
            expected.get(hash).unwrap_or_else(|| panic!("answer from a rule set that is no complete version: {body}"));
        assert_eq!(body, want, "answer does not match its rule set {hash}");
    }
}

/// Polls the webhook until the answer's tags are `tags` (no tags: the answer `{}`).
pub(crate) fn wait_for_tags(serve: &ServeProcess, tags: &[&str]) -> Value {
    let agent = agent();
    let body = before_message(BODY_TEXT);
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let mut response =
            agent.post(serve.url("/webhook")).header("content-type", "application/json").send(&body[..]).expect("post");
        let answer: Value = serde_json::from_str(&response.body_mut().read_to_string().expect("body")).expect("json");
        let done =
            if tags.is_empty() { answer == serde_json::json!({}) } else { answer["tags"] == serde_json::json!(tags) };
        if done {
            return answer;
        }
        assert!(Instant::now() < deadline, "tags never became {tags:?}; last answer {answer}\nlog:\n{}", serve.log());
        thread::sleep(Duration::from_millis(25));
    }
}

pub(crate) fn wait_for_log(serve: &ServeProcess, needle: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !serve.log().contains(needle) {
        assert!(Instant::now() < deadline, "no log line with {needle:?}; log:\n{}", serve.log());
        thread::sleep(Duration::from_millis(25));
    }
}

pub(crate) fn readyz(serve: &ServeProcess) -> Value {
    let mut response = agent().get(serve.url("/readyz")).call().expect("readyz");
    serde_json::from_str(&response.body_mut().read_to_string().expect("body")).expect("json")
}

pub(crate) fn spawn(dir: &Path) -> ServeProcess {
    ServeProcess::spawn(&["--rules", dir.to_str().expect("utf-8 path")], &[])
}

/// Writes through a temporary file and renames it over the target, as vim, most editors and
/// `sed -i` do.
fn write_by_rename(dir: &Path, name: &str, content: &str) {
    let tmp = dir.join(format!(".{name}.tmp"));
    std::fs::write(&tmp, content).expect("write temp");
    std::fs::rename(&tmp, dir.join(name)).expect("rename over");
}

#[test]
fn every_way_of_editing_a_file_is_picked_up_without_a_failed_request() {
    let v1 = pack("a", "v1");
    let dir = rules_dir(&[("a.toml", &v1)]);
    let serve = spawn(dir.path());
    let load = Load::start(&serve);
    wait_for_tags(&serve, &["a-v1"]);

    // In-place write.
    let v2 = pack("a", "v2");
    write(dir.path(), "a.toml", &v2);
    wait_for_tags(&serve, &["a-v2"]);
    // Write a temporary file, rename it over.
    let v3 = pack("a", "v3");
    write_by_rename(dir.path(), "a.toml", &v3);
    wait_for_tags(&serve, &["a-v3"]);
    // Delete, then create again.
    std::fs::remove_file(dir.path().join("a.toml")).expect("delete");
    thread::sleep(Duration::from_millis(30));
    let v4 = pack("a", "v4");
    write(dir.path(), "a.toml", &v4);
    wait_for_tags(&serve, &["a-v4"]);
    // A new pack in a subfolder.
    let b = pack("b", "v1");
    write(dir.path(), "more/b.toml", &b);
    wait_for_tags(&serve, &["a-v4", "b-v1"]);

    let answers = load.finish();
    let versions: [&[(&str, &str)]; 5] = [
        &[("a.toml", &v1)],
        &[("a.toml", &v2)],
        &[("a.toml", &v3)],
        &[("a.toml", &v4)],
        &[("a.toml", &v4), ("more/b.toml", &b)],
    ];
    // Between the delete and the new file the folder holds no pack: that reload is refused and
    // v3 keeps serving, so every answer still comes from a complete version.
    assert_consistent(&answers, &expected(&versions));
}

#[test]
fn a_list_file_change_is_picked_up() {
    let rules = r#"
[lists]
fruit = { file = "fruit.txt" }

[[rule]]
id = "fruit"
lists = ["fruit"]
tags = ["fruit"]
"#;
    let dir = rules_dir(&[("a.toml", rules), ("fruit.txt", "pear\n")]);
    let serve = spawn(dir.path());
    wait_for_tags(&serve, &[]);
    write(dir.path(), "fruit.txt", "pear\n# now apples too\napple\n");
    wait_for_tags(&serve, &["fruit"]);
}

#[test]
fn a_broken_edit_keeps_the_old_rules_until_it_is_fixed() {
    let good = pack("a", "v1");
    let dir = rules_dir(&[("a.toml", &good)]);
    let serve = spawn(dir.path());
    let load = Load::start(&serve);
    let before = wait_for_tags(&serve, &["a-v1"]);
    let hash = before["ruleset"].as_str().expect("hash").to_owned();

    // An invalid regex: the old rules keep answering, /readyz stays 200 and says a reload
    // failed; the log names the file and the rule.
    write(dir.path(), "a.toml", &format!("{good}regex = ['(unclosed']\n"));
    let deadline = Instant::now() + Duration::from_secs(15);
    let ready = loop {
        let ready = readyz(&serve);
        if ready["last_reload_failed"] == true {
            break ready;
        }
        assert!(Instant::now() < deadline, "the broken edit was never reported; log:\n{}", serve.log());
        thread::sleep(Duration::from_millis(25));
    };
    assert_eq!(ready["ruleset"], hash.as_str(), "the old rule set still serves");
    assert_eq!(wait_for_tags(&serve, &["a-v1"])["ruleset"], hash.as_str());
    // The log line comes from the reload thread right after /readyz learns of the error.
    wait_for_log(&serve, "previous rule set keeps serving");
    let log = serve.log();
    let error = log.lines().find(|l| l.contains("previous rule set keeps serving")).expect("error line");
    for part in ["a.toml:", "a.apple", "regex"] {
        assert!(error.contains(part), "{part} missing from {error}");
    }

    // The fix: new rules answer and the error clears.
    let fixed = pack("a", "v2");
    write(dir.path(), "a.toml", &fixed);
    wait_for_tags(&serve, &["a-v2"]);
    assert_eq!(readyz(&serve)["last_reload_failed"], false);

    let answers = load.finish();
    assert_consistent(&answers, &expected(&[&[("a.toml", &good)], &[("a.toml", &fixed)]]));
}

#[test]
fn a_change_to_two_files_is_never_seen_half_applied() {
    let (a1, b1) = (pack("a", "v1"), pack("b", "v1"));
    let dir = rules_dir(&[("a.toml", &a1), ("b.toml", &b1)]);
    let serve = spawn(dir.path());
    let load = Load::start(&serve);
    wait_for_tags(&serve, &["a-v1", "b-v1"]);
    let mut versions = vec![(a1.clone(), b1.clone())];
    for v in 2..=6 {
        let (a, b) = (pack("a", &format!("v{v}")), pack("b", &format!("v{v}")));
        // Both files in one burst, as `git pull` or `rsync` writes them.
        write(dir.path(), "a.toml", &a);
        write(dir.path(), "b.toml", &b);
        wait_for_tags(&serve, &[&format!("a-v{v}"), &format!("b-v{v}")]);
        versions.push((a, b));
    }
    let answers = load.finish();
    let complete: Vec<Vec<(&str, &str)>> =
        versions.iter().map(|(a, b)| vec![("a.toml", a.as_str()), ("b.toml", b.as_str())]).collect();
    let complete: Vec<&[(&str, &str)]> = complete.iter().map(Vec::as_slice).collect();
    assert_consistent(&answers, &expected(&complete));
}

/// A Kubernetes ConfigMap volume: files are links through `..data`, which is re-pointed at a new
/// timestamped folder in one rename.
#[test]
fn a_configmap_style_symlink_swap_is_picked_up() {
    let dir = rules_dir(&[]);
    let root = dir.path();
    let v1 = pack("a", "v1");
    write(root, "..2026_11_23_01/a.toml", &v1);
    std::os::unix::fs::symlink("..2026_11_23_01", root.join("..data")).expect("..data link");
    std::os::unix::fs::symlink("..data/a.toml", root.join("a.toml")).expect("a.toml link");
    let serve = spawn(root);
    let load = Load::start(&serve);
    wait_for_tags(&serve, &["a-v1"]);

    let v2 = pack("a", "v2");
    write(root, "..2026_11_23_02/a.toml", &v2);
    std::os::unix::fs::symlink("..2026_11_23_02", root.join("..data_tmp")).expect("new link");
    std::fs::rename(root.join("..data_tmp"), root.join("..data")).expect("swap ..data");
    std::fs::remove_dir_all(root.join("..2026_11_23_01")).expect("old version removed");
    wait_for_tags(&serve, &["a-v2"]);

    let answers = load.finish();
    assert_consistent(&answers, &expected(&[&[("a.toml", &v1)], &[("a.toml", &v2)]]));
}

#[test]
fn a_folder_that_vanishes_for_a_moment_keeps_the_old_rules() {
    let parent = tempfile::tempdir().expect("temp");
    let dir = parent.path().join("rules");
    let v1 = pack("a", "v1");
    write(&dir, "a.toml", &v1);
    let serve = spawn(&dir);
    let load = Load::start(&serve);
    wait_for_tags(&serve, &["a-v1"]);

    let away = parent.path().join("rules.away");
    std::fs::rename(&dir, &away).expect("folder moved away");
    let deadline = Instant::now() + Duration::from_secs(15);
    while readyz(&serve)["last_reload_failed"] != true {
        assert!(Instant::now() < deadline, "the missing folder was never reported; log:\n{}", serve.log());
        thread::sleep(Duration::from_millis(25));
    }
    wait_for_tags(&serve, &["a-v1"]);

    let v2 = pack("a", "v2");
    write(&away, "a.toml", &v2);
    std::fs::rename(&away, &dir).expect("folder back");
    wait_for_tags(&serve, &["a-v2"]);
    let answers = load.finish();
    assert_consistent(&answers, &expected(&[&[("a.toml", &v1)], &[("a.toml", &v2)]]));
}

#[test]
fn sighup_reloads() {
    let v1 = pack("a", "v1");
    let dir = rules_dir(&[("a.toml", &v1)]);
    let serve = spawn(dir.path());
    wait_for_tags(&serve, &["a-v1"]);
    // The files are unchanged, so the reload it triggers is counted (as `unchanged`) and logged,
    // and the same rules keep answering.
    let status =
        std::process::Command::new("kill").args(["-HUP", &serve.child.id().to_string()]).status().expect("kill runs");
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let mut response = agent().get(serve.url("/metrics")).call().expect("metrics");
        let text = response.body_mut().read_to_string().expect("body");
        let reloads: f64 = text
            .lines()
            .filter(|l| l.starts_with("inflight_reloads_total{"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum();
        if reloads >= 1.0 && serve.log().contains("SIGHUP") {
            break;
        }
        assert!(Instant::now() < deadline, "SIGHUP did not reload; log:\n{}", serve.log());
        thread::sleep(Duration::from_millis(25));
    }
    wait_for_tags(&serve, &["a-v1"]);
}

/// The nice value of each thread of `pid`, by thread name (`/proc/<pid>/task/*/{comm,stat}`).
fn thread_nice_values(pid: u32) -> Vec<(String, i64)> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).expect("task list");
    tasks
        .filter_map(|task| {
            let path = task.ok()?.path();
            let name = std::fs::read_to_string(path.join("comm")).ok()?.trim().to_owned();
            let stat = std::fs::read_to_string(path.join("stat")).ok()?;
            // Fields after the name in parentheses; `nice` is the 19th field of the line.
            let nice = stat.rsplit_once(')')?.1.split_whitespace().nth(16)?.parse().ok()?;
            Some((name, nice))
        })
        .collect()
}

#[test]
fn the_reload_thread_compiles_at_the_lowest_priority_and_requests_do_not() {
    let dir = rules_dir(&[("a.toml", &pack("a", "v1"))]);
    let serve = spawn(dir.path());
    wait_for_tags(&serve, &["a-v1"]);
    let deadline = Instant::now() + Duration::from_secs(15);
    let threads = loop {
        let threads = thread_nice_values(serve.child.id());
        if threads.iter().any(|(name, nice)| name == inflight::reload::RELOAD_THREAD_NAME && *nice == 19) {
            break threads;
        }
        assert!(Instant::now() < deadline, "no reload thread at nice 19: {threads:?}");
        thread::sleep(Duration::from_millis(25));
    };
    assert_eq!(inflight::reload::RELOAD_NICE, 19);
    let at_normal = threads.iter().filter(|(_, nice)| *nice == 0).count();
    assert!(at_normal >= 2, "the main thread and the HTTP workers keep the normal priority: {threads:?}");
    // Reloads still happen at that priority.
    write(dir.path(), "a.toml", &pack("a", "v2"));
    wait_for_tags(&serve, &["a-v2"]);
}
