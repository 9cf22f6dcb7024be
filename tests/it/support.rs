//! Helpers shared by the black-box tests.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::json;

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

/// `tests/data/cometchat/NAME`: CometChat webhook bodies in the documented shapes.
pub fn fixture(name: &str) -> PathBuf {
    root().join("tests/data/cometchat").join(name)
}

/// Every fixture file name, sorted.
pub fn fixture_names() -> Vec<String> {
    let dir = root().join("tests/data/cometchat");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("tests/data/cometchat exists")
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

// The `inflight serve` binary

/// `inflight serve` running, its address learned from the start-up line on stderr.
pub struct ServeProcess {
    pub child: Child,
    pub addr: SocketAddr,
    log: Arc<Mutex<String>>,
}

impl ServeProcess {
    pub fn spawn(args: &[&str], envs: &[(&str, &str)]) -> ServeProcess {
        let mut command = inflight();
        command.arg("serve");
        if !args.contains(&"--listen") {
            command.args(["--listen", "127.0.0.1:0"]);
        }
        command.args(["--workers", "2"]).args(args);
        for (k, v) in envs {
            command.env(k, v);
        }
        let mut child = command.stderr(Stdio::piped()).stdout(Stdio::null()).spawn().expect("inflight starts");
        let stderr = child.stderr.take().expect("stderr");
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel();
        let sink = Arc::clone(&log);
        // Keeps reading after start-up so the child never blocks on a full pipe.
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let addr = listening_addr(&line);
                {
                    let mut log = sink.lock().expect("log");
                    log.push_str(&line);
                    log.push('\n');
                }
                if let Some(addr) = addr {
                    let _ = tx.send(addr);
                }
            }
        });
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(addr) => ServeProcess { child, addr, log },
            Err(_) => {
                let _ = child.kill();
                panic!("no 'listening on' line; stderr:\n{}", log.lock().expect("log"));
            }
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn log(&self) -> String {
        self.log.lock().expect("log").clone()
    }

    pub fn terminate(&self) {
        let status = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
    }

    /// Waits for the process to exit; true when it exited with status 0.
    pub fn wait(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                // Let the reader thread take the last lines.
                thread::sleep(Duration::from_millis(100));
                return status.success();
            }
            thread::sleep(Duration::from_millis(20));
        }
        panic!("inflight serve did not stop; stderr:\n{}", self.log());
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `… listening on 127.0.0.1:PORT …` → the address.
fn listening_addr(line: &str) -> Option<SocketAddr> {
    let rest = &line[line.find("listening on ")? + "listening on ".len()..];
    let end = rest.find(|c: char| !(c.is_ascii_hexdigit() || matches!(c, '.' | ':' | '[' | ']'))).unwrap_or(rest.len());
    rest[..end].parse().ok()
}

pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

pub fn before_message(text: &str) -> Vec<u8> {
    let body = json!({
        "trigger": "before_message",
        "data": {"sender": "u1", "receiver": "g1", "receiverType": "group", "category": "message", "type": "text",
                 "data": {"text": text}},
        "appId": "app",
        "webhook": "hook",
    });
    serde_json::to_vec(&body).expect("json")
}

/// What the library decides for `body`: the answer `inflight serve` must send.
pub fn library_answer(rules: &std::path::Path, body: &[u8]) -> String {
    let loaded = inflight::rules::load_dir(rules).expect("rules load");
    let request = inflight::protocol::parse_request(body).expect("body parses");
    if !request.is_before_message() {
        return "{}".into();
    }
    String::from_utf8(loaded.ruleset.evaluate(&request.message).answer_json()).expect("utf-8 answer")
}

/// Reads one HTTP/1.1 response (status, lower-cased head, body by `content-length`) from a raw
/// connection; an error when the connection closes or times out first.
pub fn read_response(stream: &mut impl std::io::Read) -> std::io::Result<(u16, String, String)> {
    let closed = || std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "connection closed before a whole response");
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Err(closed());
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_lowercase();
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let length: usize =
        head.lines().find_map(|l| l.strip_prefix("content-length:")).and_then(|v| v.trim().parse().ok()).unwrap_or(0);
    while buf.len() < head_end + length {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Err(closed());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Ok((status, head, String::from_utf8_lossy(&buf[head_end..head_end + length]).into_owned()))
}

// A real `redis-server`

/// A `redis-server` of its own on a free port, without persistence; stopped when dropped.
pub struct RedisServer {
    pub child: Child,
    pub port: u16,
    extra: Vec<String>,
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

impl RedisServer {
    /// Starts one and waits until it answers. A missing `redis-server` fails the test: the
    /// project's test command installs it (scripts/test.sh).
    pub fn start(extra: &[&str]) -> RedisServer {
        RedisServer::start_on(free_port(), extra)
    }

    /// Starts one on `port` (to restart a stopped one where the service expects it).
    pub fn start_on(port: u16, extra: &[&str]) -> RedisServer {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--save", "", "--appendonly", "no", "--bind", "127.0.0.1"])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts (scripts/test.sh installs it)");
        let server = RedisServer { child, port, extra: extra.iter().map(|s| s.to_string()).collect() };
        let deadline = Instant::now() + Duration::from_secs(10);
        while server.cli(&["PING"]).trim() != "PONG" {
            assert!(Instant::now() < deadline, "redis-server did not answer on port {port}");
            thread::sleep(Duration::from_millis(20));
        }
        server
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// `redis-cli -p PORT ARGS…`'s output.
    pub fn cli(&self, args: &[&str]) -> String {
        let out =
            Command::new("redis-cli").args(["-p", &self.port.to_string()]).args(args).output().expect("redis-cli runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Kills it (SIGKILL: no goodbye to clients).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts it again on the same port, with the same settings (its data is gone).
    pub fn restart(&mut self) {
        self.kill();
        let extra = self.extra.clone();
        let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
        // The old one is reaped already; dropping it kills nothing.
        *self = RedisServer::start_on(self.port, &extra);
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
