#!/usr/bin/env python3
"""Hot-reload latency of `inflight serve`, from the outside.

Two measurements, each against a release `inflight serve --workers 2` on loopback, serving a
copy of a rules folder in a temp dir (the original is never touched):

latency (default)
    REPEATS times: append a new keyword to a keyword list of one rule file (written in place, as
    an editor does), then POST a message holding that keyword in a tight loop (one keep-alive
    connection; --poll-sleep MS spaces the polls) until the answer changes. Prints the time from the write to the first changed
    answer, each time and as median / max, next to what the service reports for the same reload
    (`compile_ms`, `event_to_swap_ms` from its JSON log) and the
    `inflight_reload_apply_seconds` / `inflight_reload_compile_seconds` histograms of /metrics.

--under-load
    wrk -t1 -c4 posts webhook bodies (the fixture with corpus texts) for DURATION seconds while
    nothing changes, then for DURATION seconds while the served folder is rewritten every
    INTERVAL seconds, alternately (twice each). Prints wrk's rate, p50 and p99 for each run and
    how many reloads the service applied meanwhile. Two scenarios:
      switch  the folder alternates between the 5k and the 50k corpus packs (every other reload
              compiles 50,000 keywords);
      append  the folder is the 50k pack, and each change appends a keyword to it (every reload
              compiles 50,000 keywords; the rule set served stays the same size).
      regex   as append, but each change adds a regex instead: the regexes are never all as
              they were, so every reload builds a new prefilter, whose caches start cold (with
              append and switch the reload keeps the serving one, docs/service.md).
      same    as append, but each change writes the file's bytes back unchanged (a save without
              an edit): every reload compiles the 50k pack and swaps nothing, which separates
              what the compile costs the requests from what a swap does.

--reloads N
    resident memory (VmRSS) of the service after the first load, and after N reloads, each
    after a keyword appended as above (every reload compiles and swaps in a new rule set).

Usage:
  scripts/reload-latency.py [--rules bundled|500|5k|50k|DIR] [--repeats 10]
  scripts/reload-latency.py --rules 50k --reloads 100
  scripts/reload-latency.py --under-load [--scenario switch|append|regex|same|both|all] [--duration 20]
Needs target/release/inflight (built unless --no-build; --binary names another, such as a copy of
main's to compare), the corpus in target/corpus (written by `cargo run --release --example
gen_corpus -- target/corpus` when missing; both under $CARGO_TARGET_DIR when set) and, for
--under-load, wrk (scripts/http-bench.sh installs it).
"""

import argparse
import http.client
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Cargo's own variable: a worktree sharing a build folder measures that folder's binary.
TARGET = Path(os.environ.get("CARGO_TARGET_DIR") or ROOT / "target")
INFLIGHT = TARGET / "release" / "inflight"
CORPUS = TARGET / "corpus"
FIXTURE_NAME = "before_message_group_text.json"
# The first keyword list of this file gets the new keywords.
EDITED_FILE = {"bundled": "spam.toml"}
DEFAULT_EDITED_FILE = "kw-spam.toml"
LIST_LINE = re.compile(r"^(\s*[A-Za-z0-9_]+\s*=\s*\[)", re.M)


def rules_dir(name):
    if name == "bundled":
        return ROOT / "rules"
    if name in ("500", "5k", "50k"):
        return CORPUS / f"rules-{name}"
    return Path(name)


def fixture_path():
    p = ROOT / "tests" / "data" / "cometchat" / FIXTURE_NAME
    if p.exists():
        return p
    sys.exit(f"fixture {p} not found")


class Server:
    """`inflight serve` on a free loopback port, logging JSON lines to a file."""

    def __init__(self, rules, workdir):
        self.log_path = Path(workdir) / "serve.log"
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [str(INFLIGHT), "serve", "--workers", "2", "--listen", "127.0.0.1:0", "--rules", str(rules),
             "--log-format", "json"],
            stdout=subprocess.DEVNULL, stderr=self.log)
        deadline = time.monotonic() + 120
        self.addr = None
        while self.addr is None:
            if self.proc.poll() is not None:
                sys.exit(f"inflight serve exited: {self.log_path.read_text()}")
            if time.monotonic() > deadline:
                self.stop()
                sys.exit("inflight serve did not start within 120 s")
            for event in self.events():
                m = re.search(r"listening on (\S+)", event.get("message", ""))
                if m:
                    self.addr = m.group(1)
            time.sleep(0.05)
        host, port = self.addr.rsplit(":", 1)
        self.host, self.port = host, int(port)

    def events(self):
        out = []
        for line in self.log_path.read_text().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
        return out

    def reloads(self):
        return [e for e in self.events() if e.get("message", "").startswith("rules reloaded")]

    def connection(self):
        return http.client.HTTPConnection(self.host, self.port, timeout=10)

    def metrics(self):
        conn = self.connection()
        conn.request("GET", "/metrics")
        text = conn.getresponse().read().decode()
        conn.close()
        return text

    def memory(self):
        """VmRSS and VmHWM (peak) of the service, as printed in /proc/PID/status."""
        fields = {}
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = " ".join(value.split())
        return f"VmRSS {fields.get('VmRSS', '?')}, VmHWM (peak) {fields.get('VmHWM', '?')}"

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def post(conn, body):
    conn.request("POST", "/webhook", body, {"Content-Type": "application/json"})
    return conn.getresponse().read()


def webhook_body(base, text):
    base["data"]["data"]["text"] = text
    return json.dumps(base, ensure_ascii=False, separators=(",", ":")).encode()


def probe_word(i):
    # Same length and letters only: no probe is a prefix of another, and every normalization
    # level leaves it as it is.
    return "reloadprobe" + chr(ord("a") + i // 26 % 26) + chr(ord("a") + i % 26)


def add_keyword(path, word):
    """Appends `word` to the first keyword list of `path`, rewriting the file in place."""
    text = path.read_text()
    m = LIST_LINE.search(text)
    if not m:
        sys.exit(f"no keyword list in {path}")
    path.write_text(text[: m.end()] + f'"{word}", ' + text[m.end():])


def add_regex(path, word):
    """Adds a regex matching `word` to the first regex list of `path`, rewriting it in place."""
    text = path.read_text()
    at = text.find("regex = [\n")
    if at < 0:
        sys.exit(f"no regex list in {path}")
    at += len("regex = [\n")
    path.write_text(text[:at] + f"  '\\b{word}\\b',\n" + text[at:])


def histogram(metrics, name):
    values = {}
    for line in metrics.splitlines():
        for suffix in ("sum", "count"):
            if line.startswith(f"{name}_{suffix} "):
                values[suffix] = float(line.split()[1])
    return values


def measure_latency(args):
    source = rules_dir(args.rules)
    edited = args.file or EDITED_FILE.get(args.rules, DEFAULT_EDITED_FILE)
    base = json.loads(fixture_path().read_text())
    with tempfile.TemporaryDirectory(prefix="reload-latency.") as work:
        rules = Path(work) / "rules"
        shutil.copytree(source, rules)
        target = rules / edited
        server = Server(rules, work)
        results = []
        try:
            conn = server.connection()
            for i in range(args.repeats):
                word = probe_word(i)
                body = webhook_body(base, f"hello {word} there")
                before = post(conn, body)
                seen = len(server.reloads())
                started = time.perf_counter()
                add_keyword(target, word)
                polls = 0
                while True:
                    if args.poll_sleep:
                        time.sleep(args.poll_sleep / 1e3)
                    answer = post(conn, body)
                    polls += 1
                    took = time.perf_counter() - started
                    if answer != before:
                        break
                    if took > 10:
                        sys.exit(f"no changed answer 10 s after adding {word} to {target}")
                # The service's own account of this reload.
                deadline = time.monotonic() + 5
                while len(server.reloads()) <= seen and time.monotonic() < deadline:
                    time.sleep(0.01)
                report = (server.reloads()[seen:] or [{}])[-1]
                results.append((took, report.get("compile_ms"), report.get("event_to_swap_ms")))
                print(f"  {i + 1:2}: answer changed {took * 1e3:7.1f} ms after the write ({polls} polls); "
                      f"service: compile {report.get('compile_ms', float('nan')):6.1f} ms, "
                      f"event to swap {report.get('event_to_swap_ms', float('nan')):6.1f} ms; "
                      f"answer {answer.decode()[:60]}", flush=True)
                time.sleep(args.pause)
            metrics = server.metrics()
            memory = server.memory()
        finally:
            server.stop()
    ms = [r[0] * 1e3 for r in results]
    compile_ms = [r[1] for r in results if r[1] is not None]
    swap_ms = [r[2] for r in results if r[2] is not None]
    print(f"rules {source} (edited {edited}): write to changed answer over {len(ms)} reloads: "
          f"median {statistics.median(ms):.1f} ms, max {max(ms):.1f} ms, min {min(ms):.1f} ms")
    if compile_ms:
        print(f"  service log: compile median {statistics.median(compile_ms):.1f} ms (max {max(compile_ms):.1f}), "
              f"event to swap median {statistics.median(swap_ms):.1f} ms (max {max(swap_ms):.1f})")
    for name in ("inflight_reload_apply_seconds", "inflight_reload_compile_seconds"):
        h = histogram(metrics, name)
        if h.get("count"):
            print(f"  /metrics {name}: count {h['count']:.0f}, mean {h['sum'] / h['count'] * 1e3:.1f} ms")
    print(f"  service memory: {memory}")


def rss_kib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def measure_memory(args):
    """Resident memory after the first load, then after each of --reloads changes (a keyword
    appended, so every reload compiles and swaps in a new rule set), idle between them."""
    source = rules_dir(args.rules)
    edited = args.file or EDITED_FILE.get(args.rules, DEFAULT_EDITED_FILE)
    with tempfile.TemporaryDirectory(prefix="reload-memory.") as work:
        rules = Path(work) / "rules"
        shutil.copytree(source, rules)
        server = Server(rules, work)
        try:
            time.sleep(1)
            first = rss_kib(server.proc.pid)
            samples = []
            for i in range(args.reloads):
                seen = len(server.reloads())
                add_keyword(rules / edited, probe_word(i))
                deadline = time.monotonic() + 30
                while len(server.reloads()) <= seen:
                    if time.monotonic() > deadline:
                        sys.exit(f"no reload 30 s after change {i + 1}")
                    time.sleep(0.02)
                samples.append(rss_kib(server.proc.pid))
            time.sleep(1)
            last = rss_kib(server.proc.pid)
            peak = server.memory()
        finally:
            server.stop()
    mib = lambda kib: kib / 1024
    print(f"rules {source}: RSS after the first load {mib(first):.1f} MiB; after {args.reloads} reloads "
          f"{mib(last):.1f} MiB ({last / first:.2f}x); during them min {mib(min(samples)):.1f}, "
          f"max {mib(max(samples)):.1f} MiB; {peak}")


# ---- under load ----

LUA = """
local bodies = {}
local i = 0
function init(args)
    for line in io.lines("%s") do
        bodies[#bodies + 1] = wrk.format("POST", nil, { ["Content-Type"] = "application/json" }, line)
    end
end
function request()
    i = i %% #bodies + 1
    return bodies[i]
end
"""


def to_us(value):
    m = re.match(r"([0-9.]+)(us|ms|s|m)$", value)
    if not m:
        return float("nan")
    return float(m.group(1)) * {"us": 1, "ms": 1e3, "s": 1e6, "m": 6e7}[m.group(2)]


def wrk(url, script, seconds, warmup=0):
    if warmup:
        subprocess.run(["wrk", "-t1", "-c4", f"-d{warmup}s", "-s", script, url], stdout=subprocess.DEVNULL, check=True)
    out = subprocess.run(["wrk", "-t1", "-c4", f"-d{seconds}s", "--latency", "-s", script, url],
                         capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([0-9.]+)", out).group(1))
    p50 = to_us(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))
    p99 = to_us(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))
    errors = "; ".join(l.strip() for l in out.splitlines() if "Non-2xx" in l or "Socket errors" in l)
    return rate, p50, p99, errors or "none"


def copy_files(source, dest):
    """Rewrites each file of `source` into `dest` (atomically, one file at a time)."""
    for path in sorted(source.rglob("*")):
        if path.is_file():
            target = dest / path.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(target.name + ".swap")
            shutil.copyfile(path, tmp)
            os.replace(tmp, target)


def wait_for(server, rules):
    """Waits until the service serves what `rules` holds now (its hash per `inflight check`)."""
    out = subprocess.run([str(INFLIGHT), "check", "--rules", str(rules)], capture_output=True, text=True).stdout
    m = re.search(r"ruleset (\w+)", out)
    if not m:
        sys.exit(f"inflight check failed on {rules}: {out}")
    deadline = time.monotonic() + 60
    while f'inflight_ruleset_info{{hash="{m.group(1)}"}} 1' not in server.metrics():
        if time.monotonic() > deadline:
            sys.exit(f"the service did not load ruleset {m.group(1)} within 60 s")
        time.sleep(0.2)
    time.sleep(0.5)


def under_load(args, scenario):
    five_k, fifty_k = CORPUS / "rules-5k", CORPUS / "rules-50k"
    base = json.loads(fixture_path().read_text())
    with tempfile.TemporaryDirectory(prefix="reload-load.") as work:
        work = Path(work)
        bodies = work / "bodies.jsonl"
        with open(CORPUS / "messages.jsonl", encoding="utf-8") as f, open(bodies, "wb") as out:
            for _, line in zip(range(200), f):
                out.write(webhook_body(base, json.loads(line)["data"]["text"]) + b"\n")
        script = work / "post.lua"
        script.write_text(LUA % bodies)
        rules = work / "rules"
        if scenario == "switch":
            # Every list file of both packs, then the 5k pack's rule files over them: unused
            # list files are harmless, so a switch only rewrites the rule files.
            shutil.copytree(fifty_k, rules)
            copy_files(five_k, rules)
        else:
            shutil.copytree(fifty_k, rules)
        server = Server(rules, work)
        url = f"http://{server.addr}/webhook"
        runs = []
        try:
            wrk(url, str(script), 1, warmup=2)
            for round_ in range(args.rounds):
                for reloading in (False, True):
                    stop = threading.Event()
                    changes = [0]

                    def change():
                        i = 0
                        while not stop.wait(args.interval):
                            if scenario == "switch":
                                copy_files(fifty_k if i % 2 == 0 else five_k, rules)
                            elif scenario == "regex":
                                add_regex(rules / "re-links.toml", probe_word(i))
                            elif scenario == "same":
                                path = rules / "kw-spam.toml"
                                path.write_text(path.read_text())
                            else:
                                add_keyword(rules / "kw-spam.toml", probe_word(i))
                            i += 1
                            changes[0] = i

                    before = len(server.reloads())
                    thread = threading.Thread(target=change) if reloading else None
                    if thread:
                        thread.start()
                    rate, p50, p99, errors = wrk(url, str(script), args.duration)
                    stop.set()
                    if thread:
                        thread.join()
                    if scenario == "switch" and changes[0] % 2 == 1:
                        # Back to the 5k pack, so every steady run serves the same rules.
                        copy_files(five_k, rules)
                    wait_for(server, rules)
                    reloads = server.reloads()[before:]
                    compile_ms = [r.get("compile_ms", 0) for r in reloads]
                    runs.append((reloading, rate, p50, p99))
                    what = "reloading" if reloading else "steady   "
                    extra = (f"; {changes[0]} changes, {len(reloads)} reloads, compile median "
                             f"{statistics.median(compile_ms):.0f} ms, max {max(compile_ms):.0f} ms"
                             if compile_ms else "")
                    print(f"  {scenario} round {round_ + 1} {what}: {rate:8.0f} req/s  p50 {p50:6.0f} us  "
                          f"p99 {p99:6.0f} us  errors: {errors}{extra}", flush=True)
            print(f"  {scenario}: service memory at the end: {server.memory()}")
        finally:
            server.stop()
    for reloading in (False, True):
        p99 = [r[3] for r in runs if r[0] == reloading]
        rate = [r[1] for r in runs if r[0] == reloading]
        print(f"  {scenario} {'reloading' if reloading else 'steady'}: p99 median {statistics.median(p99):.0f} us "
              f"(runs: {', '.join(f'{x:.0f}' for x in p99)}), req/s median {statistics.median(rate):.0f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rules", default="5k", help="bundled, 500, 5k, 50k or a folder (default 5k)")
    parser.add_argument("--file", help="the rule file to edit, relative to the folder")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--pause", type=float, default=1.0, help="seconds between two edits")
    parser.add_argument("--poll-sleep", type=float, default=0.0,
                        help="milliseconds between two polls (0: a tight loop, which takes a core from the reload "
                             "on a small machine)")
    parser.add_argument("--under-load", action="store_true")
    parser.add_argument("--reloads", type=int, default=0,
                        help="instead: resident memory after the first load and after this many reloads")
    parser.add_argument("--scenario", choices=["switch", "append", "regex", "same", "both", "all"], default="both")
    parser.add_argument("--duration", type=int, default=20, help="seconds of each wrk run")
    parser.add_argument("--interval", type=float, default=3.0, help="seconds between two changes under load")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--no-build", action="store_true")
    parser.add_argument("--binary", help="the inflight binary to measure (implies --no-build)")
    args = parser.parse_args()
    if args.binary:
        global INFLIGHT
        INFLIGHT = Path(args.binary).resolve()
        args.no_build = True
    if not args.no_build:
        subprocess.run(["cargo", "build", "--release", "--bin", "inflight"], cwd=ROOT, check=True)
    if not (CORPUS / "messages.jsonl").exists():
        subprocess.run(["cargo", "run", "--release", "--example", "gen_corpus", "--", str(CORPUS)], cwd=ROOT,
                       check=True)
    load = open("/proc/loadavg").read().split()[:3]
    print(f"reload-latency {time.strftime('%Y-%m-%dT%H:%MZ', time.gmtime())}, load average {' '.join(load)}")
    if args.under_load:
        if shutil.which("wrk") is None:
            sys.exit("wrk is missing: apt-get install -y wrk (scripts/http-bench.sh does it)")
        both = {"both": ["switch", "append"], "all": ["switch", "append", "regex", "same"]}
        for scenario in both.get(args.scenario, [args.scenario]):
            under_load(args, scenario)
    elif args.reloads:
        measure_memory(args)
    else:
        measure_latency(args)


if __name__ == "__main__":
    main()
