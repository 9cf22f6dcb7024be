//! The console (`inflight serve --ui`) against the real binary: its security over plain HTTP
//! (auth, exposure, cross-site requests), then what a person does in a real browser, headless
//! Chromium driven over WebDriver (Debian's `chromium` and `chromium-driver`; `scripts/test.sh`
//! installs them). A missing browser fails the test, naming the package; nothing is skipped.
//!
//! Each browser test starts its own `chromedriver` on a free port and its own `inflight serve`
//! on a random port, over a copy of the bundled rules, and stops both when done (even when the
//! test fails). Browser tests run one at a time: two Chromiums on a small machine make both slow.
//! Screenshots of the three pages go to `target/console-*.png`.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

use crate::support::{ServeProcess, agent, before_message, inflight, root};

/// One browser at a time.
static BROWSER: Mutex<()> = Mutex::new(());

/// A copy of the bundled rules in a temporary folder (the tests edit and reload it).
fn bundled_rules() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    copy_dir(&root().join("rules"), dir.path());
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create folder");
    for entry in std::fs::read_dir(from).expect("read rules") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy");
        }
    }
}

fn serve_console(rules: &Path, extra: &[&str]) -> ServeProcess {
    let mut args = vec!["--rules", rules.to_str().expect("utf-8 path"), "--ui"];
    args.extend_from_slice(extra);
    ServeProcess::spawn(&args, &[])
}

fn post_webhook(server: &ServeProcess, text: &str) -> String {
    let response =
        agent().post(&server.url("/webhook")).content_type("application/json").send(&before_message(text[..].as_ref()));
    response.expect("webhook answers").body_mut().read_to_string().expect("body")
}

fn readyz_hash(server: &ServeProcess) -> String {
    let mut response = agent().get(&server.url("/readyz")).call().expect("readyz");
    let body: Value = serde_json::from_str(&response.body_mut().read_to_string().expect("body")).expect("json");
    body["ruleset"].as_str().expect("a rule set serves").to_owned()
}

// ---- security, over plain HTTP ----

#[test]
fn the_console_refuses_to_start_where_anyone_could_open_it() {
    let out = inflight().args(["serve", "--listen", "0.0.0.0:0", "--ui"]).output().expect("runs");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--basic-auth"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");

    let out = inflight().args(["serve", "--listen", "127.0.0.1:0", "--ui-recent", "10"]).output().expect("runs");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("add --ui"), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn the_console_is_off_by_default() {
    let rules = bundled_rules();
    let server = ServeProcess::spawn(&["--rules", rules.path().to_str().expect("utf-8")], &[]);
    let response = agent().get(&server.url("/ui")).call().expect("answers");
    assert_eq!(response.status(), 404);
}

/// Everything under /ui needs the webhook's credential; a POST from another site is refused
/// even with it, and so is one without the page's CSRF token.
#[test]
fn the_console_needs_auth_and_refuses_cross_site_requests() {
    let rules = bundled_rules();
    let server = serve_console(rules.path(), &["--basic-auth", "mod:s3cret"]);
    let auth = format!("Basic {}", BASE64.encode("mod:s3cret"));
    for path in ["/ui", "/ui/try", "/ui/draft", "/ui/api/overview", "/ui/assets/console.js"] {
        let response = agent().get(&server.url(path)).call().expect("answers");
        assert_eq!(response.status(), 401, "{path}");
        assert_eq!(response.headers()["www-authenticate"], r#"Basic realm="inflight""#, "{path}");
        let wrong =
            agent().get(&server.url(path)).header("authorization", "Basic bW9kOndyb25n").call().expect("answers");
        assert_eq!(wrong.status(), 401, "{path} with a wrong password");
    }
    let mut page = agent().get(&server.url("/ui/try")).header("authorization", &auth).call().expect("answers");
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"].to_str().expect("ascii").to_owned();
    assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"), "{csp}");
    let html = page.body_mut().read_to_string().expect("html");
    let token = html.split("name=\"csrf\" content=\"").nth(1).and_then(|s| s.split('"').next()).expect("token");

    let post = |headers: &[(&str, &str)], form: String| {
        let mut request =
            agent().post(&server.url("/ui/try")).header("content-type", "application/x-www-form-urlencoded");
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        request.send(form.as_bytes()).expect("answers").status().as_u16()
    };
    let form = format!("csrf={token}&text=free+crypto");
    let host = server.addr.to_string();
    let same_origin = format!("http://{host}");
    type Headers<'a> = Vec<(&'a str, &'a str)>;
    let cases: [(&str, Headers<'_>, String, u16); 6] = [
        ("no credential", vec![], form.clone(), 401),
        (
            "same origin with token",
            vec![("authorization", &auth), ("origin", &same_origin), ("sec-fetch-site", "same-origin")],
            form.clone(),
            200,
        ),
        ("another origin", vec![("authorization", &auth), ("origin", "http://evil.example")], form.clone(), 403),
        ("cross-site fetch", vec![("authorization", &auth), ("sec-fetch-site", "cross-site")], form.clone(), 403),
        ("no token", vec![("authorization", &auth), ("origin", &same_origin)], "text=free+crypto".into(), 403),
        ("wrong token", vec![("authorization", &auth)], "csrf=00&text=x".into(), 403),
    ];
    for (name, headers, body, want) in cases {
        assert_eq!(post(&headers, body), want, "{name}");
    }
}

// ---- in a browser ----

/// `chromedriver` on a free port, stopped on drop.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_driver() -> Driver {
    let port = TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let child = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot start chromedriver ({e}): install Debian's chromium and chromium-driver packages (scripts/test.sh does)")
        });
    let driver = Driver { child, url: format!("http://127.0.0.1:{port}") };
    let deadline = Instant::now() + Duration::from_secs(30);
    while agent().get(&format!("{}/status", driver.url)).call().map(|r| r.status() != 200).unwrap_or(true) {
        assert!(Instant::now() < deadline, "chromedriver did not come up on port {port}");
        std::thread::sleep(Duration::from_millis(100));
    }
    driver
}

/// Runs `test` with a fresh headless Chromium; the browser and its driver are stopped whatever
/// happens, then a failure inside is raised again.
fn in_browser<F, Fut>(test: F)
where
    F: FnOnce(Client) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let _one_at_a_time = BROWSER.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    assert!(
        Path::new("/usr/bin/chromium").exists(),
        "Chromium is missing: install Debian's chromium and chromium-driver packages (scripts/test.sh does)"
    );
    let driver = start_driver();
    let url = driver.url.clone();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    runtime.block_on(async move {
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({"binary": "/usr/bin/chromium",
                   "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                            "--window-size=1366,1000", "--hide-scrollbars", "--force-device-scale-factor=1"]}),
        );
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&url)
            .await
            .expect("a Chromium session");
        let outcome = tokio::spawn(test(client.clone())).await;
        let _ = client.close().await;
        if let Err(failure) = outcome {
            std::panic::resume_unwind(failure.into_panic());
        }
    });
    drop(driver);
}

/// Saves what the browser shows to `target/console-NAME.png`, the page `height` pixels tall.
async fn screenshot(client: &Client, name: &str, height: u32) {
    client.set_window_size(1366, height).await.expect("resize");
    let png = client.screenshot().await.expect("screenshot");
    let dir = root().join("target");
    std::fs::create_dir_all(&dir).expect("target/");
    std::fs::write(dir.join(format!("console-{name}.png")), png).expect("write screenshot");
    client.set_window_size(1366, 1000).await.expect("resize");
}

/// The text of the element `id`, once it exists. The overview re-renders every 5 s: an element
/// found just before that is stale when its text is asked for, so it is looked up again.
async fn text_of(client: &Client, id: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let element = client.wait().at_most(Duration::from_secs(10)).for_element(Locator::Id(id)).await.expect(id);
        match element.text().await {
            Ok(text) => return text,
            Err(e) => assert!(Instant::now() < deadline, "#{id}: no text within 10 s: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the element `id` reads `want` (the overview updates itself every 5 s).
async fn until_text(client: &Client, id: &str, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let now = text_of(client, id).await;
        if now == want {
            return;
        }
        assert!(Instant::now() < deadline, "#{id} reads {now:?}, never {want:?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Nothing the tests typed ran as script: no marker set, no element injected.
async fn assert_no_script_ran(client: &Client, container: &str) {
    let ran = client
        .execute("return window.__pwned === undefined ? null : String(window.__pwned);", vec![])
        .await
        .expect("js");
    assert_eq!(ran, Value::Null, "an injected script ran");
    let injected = client.find_all(Locator::Css(&format!("{container} img, {container} script"))).await.expect("find");
    assert!(injected.is_empty(), "markup from a message became elements in {container}");
}

const SCAM: &str = "Double your Bitcoin! Send 1 ETH, get 2 back";
const HOSTILE: &str = r#"<script>window.__pwned=1</script> "><img src=x onerror="window.__pwned=2"> pwned"#;

#[test]
fn overview_and_try_in_a_browser() {
    let rules = bundled_rules();
    let server = serve_console(rules.path(), &["--ui-recent", "100"]);
    let hash = readyz_hash(&server);
    let base = server.url("");
    let webhook = server.url("/webhook");
    in_browser(move |client| async move {
        // The overview names the rule set serving.
        client.goto(&format!("{base}/ui")).await.expect("open /ui");
        assert_eq!(text_of(&client, "ruleset-hash").await, hash);
        // The bundled rules count (flood.toml): the memory store's health shows.
        assert_eq!(text_of(&client, "state").await, "ok");

        // A few messages later, the counts have moved without a reload of the page.
        for text in ["hello there", "Reach me at jane.doe@example.com", SCAM, SCAM] {
            let body = before_message(text);
            let answer = tokio::task::spawn_blocking({
                let webhook = webhook.clone();
                move || agent().post(&webhook).content_type("application/json").send(&body).expect("webhook").status()
            });
            assert_eq!(answer.await.expect("joined"), 200);
        }
        until_text(&client, "total-drop", "2").await;
        until_text(&client, "total-allow", "1").await;
        until_text(&client, "total-tag", "1").await;
        let first_row = client.find(Locator::Css("#rules-body tr:first-child code")).await.expect("a row");
        assert!(first_row.text().await.expect("text").starts_with("spam.crypto-"), "the most hit rule comes first");
        assert!(!client.find_all(Locator::Css("#rules-body tr.never")).await.expect("rows").is_empty());
        assert!(!client.find_all(Locator::Css("#chart-actions rect")).await.expect("bars").is_empty(), "chart drawn");
        screenshot(&client, "overview", 1450).await;

        // Try: the scam is dropped, its words marked.
        client.goto(&format!("{base}/ui/try")).await.expect("open /ui/try");
        client.find(Locator::Id("text")).await.expect("text field").send_keys(SCAM).await.expect("type");
        client.find(Locator::Id("try-submit")).await.expect("button").click().await.expect("submit");
        assert_eq!(text_of(&client, "verdict").await, "drop");
        let marks = client.find_all(Locator::Css("#highlighted mark")).await.expect("marks");
        let mut marked = Vec::new();
        for mark in &marks {
            marked.push(mark.text().await.expect("text"));
        }
        assert!(marked.iter().any(|m| m.eq_ignore_ascii_case("double your bitcoin")), "{marked:?}");
        assert_eq!(text_of(&client, "answer").await, r#"{"action":"do_not_propagate"}"#);
        assert!(text_of(&client, "explanation").await.contains("decision: drop"));
        assert!(text_of(&client, "hits").await.contains("spam.toml:"), "hits name the rule's file:line");
        screenshot(&client, "try", 1500).await;

        // Hostile text is shown as text, never run.
        let field = client.find(Locator::Id("text")).await.expect("text field");
        field.clear().await.expect("clear");
        field.send_keys(HOSTILE).await.expect("type");
        client.find(Locator::Id("try-submit")).await.expect("button").click().await.expect("submit");
        let shown = text_of(&client, "highlighted").await;
        assert!(
            shown.contains("<script>window.__pwned=1</script>") && shown.contains("<img src=x onerror="),
            "{shown}"
        );
        assert_no_script_ran(&client, "main").await;

        // Without --ui-write there is no Apply button.
        client.goto(&format!("{base}/ui/draft")).await.expect("open /ui/draft");
        assert!(client.find_all(Locator::Id("do-apply")).await.expect("find").is_empty());
    });
}

/// Waits until `/readyz` names `hash` (the hot reload took the applied pack).
async fn until_serving(readyz: &str, hash: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let url = readyz.to_owned();
        let body = tokio::task::spawn_blocking(move || {
            agent().get(&url).call().expect("readyz").body_mut().read_to_string().expect("body")
        });
        let now: Value = serde_json::from_str(&body.await.expect("joined")).expect("json");
        if now["ruleset"] == hash {
            return;
        }
        assert!(Instant::now() < deadline, "/readyz never served {hash}: {now}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The rules a person adds in the Draft test: first broken, then fixed.
const BROKEN_RULE: &str = "\n[[rule]]\nid = \"spam.free-phone\"\nregex = ['free\\s+(iphone']\ntags = [\"spam\"]\n";
const FIXED_RULE: &str = "\n[[rule]]\nid = \"spam.free-phone\"\nregex = ['free\\s+iphone']\nkeywords = [\"pwned\"]\nscore = 10\ntags = [\"spam\"]\nexamples.match = [\"win a FREE iPhone\"]\n";

#[test]
fn draft_check_replay_and_apply_in_a_browser() {
    let rules = bundled_rules();
    let server = serve_console(rules.path(), &["--ui-recent", "1000", "--ui-write"]);
    for text in ["hello", "win a free iphone today", "free   iPhone for the first 10", SCAM, HOSTILE] {
        post_webhook(&server, text);
    }
    let spam = std::fs::read_to_string(rules.path().join("spam.toml")).expect("spam.toml");
    let before = readyz_hash(&server);
    let base = server.url("");
    let rules_path: PathBuf = rules.path().to_path_buf();
    let readyz = server.url("/readyz");
    in_browser(move |client| async move {
        client.goto(&format!("{base}/ui/draft?pack=spam.toml")).await.expect("open /ui/draft");
        let editor = client.find(Locator::Id("editor")).await.expect("editor");
        assert_eq!(editor.prop("value").await.expect("value").as_deref(), Some(spam.as_str()));

        // Break it: a new rule with an unclosed group, typed at the end.
        editor.send_keys(BROKEN_RULE).await.expect("type");
        let typed = editor.prop("value").await.expect("value").expect("text");
        let bad_line = typed.lines().position(|l| l.starts_with("regex = ['free")).expect("typed") + 1;
        client.find(Locator::Id("do-check")).await.expect("check").click().await.expect("click");
        let marked = client.wait().for_element(Locator::Css("#listing li.error")).await.expect("an error line");
        assert_eq!(marked.attr("id").await.expect("id").as_deref(), Some(format!("L{bad_line}").as_str()));
        let diagnostics = text_of(&client, "diagnostics").await;
        assert!(
            diagnostics.contains(&format!("spam.toml:{bad_line}:")) && diagnostics.contains("spam.free-phone"),
            "{diagnostics}"
        );
        // Apply refuses it, and nothing is written.
        client.find(Locator::Id("do-apply")).await.expect("apply").click().await.expect("click");
        assert!(text_of(&client, "notice").await.contains("not written"));
        assert_eq!(std::fs::read_to_string(rules_path.join("spam.toml")).expect("spam.toml"), spam);

        // Fix it and replay the recent traffic.
        let fixed = format!("{spam}{FIXED_RULE}");
        client
            .execute("document.getElementById('editor').value = arguments[0];", vec![json!(fixed)])
            .await
            .expect("set the editor");
        client.find(Locator::Id("do-replay")).await.expect("replay").click().await.expect("click");
        let summary = text_of(&client, "replay-summary").await;
        assert!(summary.contains("5 messages") && summary.contains("3 answered differently"), "{summary}");
        let changes = text_of(&client, "changes").await;
        assert!(changes.contains("win a free iphone today") && changes.contains("+spam.free-phone"), "{changes}");
        let lower = changes.to_lowercase();
        assert!(lower.contains("before allow") && lower.contains("after tag score 10"), "{changes}");
        assert!(text_of(&client, "replay-rules").await.contains("spam.free-phone"));
        assert_no_script_ran(&client, "#changes").await;
        assert!(changes.contains("<img src=x onerror="), "the hostile message is listed as text: {changes}");
        client.execute("document.getElementById('result').scrollIntoView();", vec![]).await.expect("scroll");
        screenshot(&client, "draft", 1700).await;

        // Test, then Apply: the hot reload serves the new rule set.
        client.find(Locator::Id("do-test")).await.expect("test").click().await.expect("click");
        assert!(text_of(&client, "test-summary").await.contains("all pass"));
        client.find(Locator::Id("do-apply")).await.expect("apply").click().await.expect("click");
        assert!(text_of(&client, "applied").await.contains("written"));
        let new_hash = text_of(&client, "draft-hash").await;
        assert_ne!(new_hash, before);
        assert_eq!(std::fs::read_to_string(rules_path.join("spam.toml")).expect("spam.toml"), fixed);
        until_serving(&readyz, &new_hash).await;
        client.goto(&format!("{base}/ui")).await.expect("open /ui");
        assert_eq!(text_of(&client, "ruleset-hash").await, new_hash);
        assert!(text_of(&client, "reloads-body").await.contains("files ok"), "the reload is in the history");
    });
}
