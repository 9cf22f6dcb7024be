#!/usr/bin/env bash
# HTTP load benchmark: `inflight serve` against the bare actix-web handler
# (examples/bare_actix.rs), on loopback, with wrk posting realistic CometChat bodies.
#
# What it does, in order:
#   1. installs wrk when missing (`apt-get install -y wrk`, after `apt-get update` if the first
#      try fails: needs root, as on the project's machines);
#   2. builds release (`cargo build --release --bin inflight --example bare_actix`; --no-build skips);
#   3. writes the benchmark corpus to target/corpus when missing (examples/gen_corpus.rs);
#   4. makes BODIES webhook bodies (~1.2 KB each): the fixture
#      before_message_group_text.json with data.data.text taken from the first BODIES corpus
#      messages, and prints how many of them hit the rules (`inflight replay`);
#   5. for each round, starts each server alone (never two at once), warms it up, and runs
#      `wrk -t2 -c32 -d$DURATION --latency` then `wrk -t1 -c4 ...`, posting the bodies in turn;
#      the order of the servers alternates from one round to the next;
#   6. prints each run (requests/s, p50, p99) and a summary: median and spread over the rounds,
#      and the ratios inflight/bare (rate and p99) and decision-log/plain.
#
# Bounded: loopback only, fixed durations, and every server started is killed on exit.
#
# Usage: scripts/http-bench.sh [--rules 5k|500|50k|bundled|DIR] [--mode compare|decision-log|console|all]
#                              [--rounds N] [--duration 10s] [--workers 2] [--bodies 200]
#                              [--no-build] [--out FILE]
#   compare       bare handler vs inflight (default)
#   decision-log  inflight vs inflight --decision-log FILE (a temp file, deleted after each run)
#   console       inflight vs inflight --ui with the overview open (its JSON fetched every 5 s
#                 during the run, as the page does) vs the same with --ui-recent 10000
#   all           the three
#   state         rules that remember: --rules without its state rules (flood.toml and `counts`
#                 lines left out) vs the whole folder on --state memory vs on --state redis (a
#                 redis-server of its own on a free port); every request gets its own muid and one
#                 of 10,000 senders, so resends and one sender's flood do not flatter the figures
#   --out FILE    also append the runs and the summary, as markdown, to FILE
# Every mode serves --rules without its state rules (flood.toml and `counts` lines), but for the
# state mode's memory and redis runs: one sender posts every body, so a flood rule would drop them.
# For the bundled rules that is how `--rules bundled` is measured (issue 14's "bundled" figure).
# Environment: INFLIGHT and BARE override the binaries measured (default: target/release/...);
# BARE_ARGS=--text-only makes the bare handler read only the trigger and the text (the reference
# before 2026-12-02; it parses the whole envelope since).
# On a shared machine, `nice -n -10 scripts/http-bench.sh ...` (root) keeps other work from
# dominating the tail latencies; `chrt` does not help (round-robin slices add 10s of ms).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)

RULES_ARG=5k
MODE=compare
ROUNDS=2
DURATION=10s
WARMUP=2s
WORKERS=2
BODIES=200
BUILD=1
OUT=
CORPUS=$ROOT/target/corpus
FIXTURE=${FIXTURE:-$ROOT/tests/data/cometchat/before_message_group_text.json}

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit "${1:-0}"; }

while [ $# -gt 0 ]; do
    case "$1" in
        --rules) RULES_ARG=$2; shift 2 ;;
        --mode) MODE=$2; shift 2 ;;
        --rounds) ROUNDS=$2; shift 2 ;;
        --duration) DURATION=$2; shift 2 ;;
        --warmup) WARMUP=$2; shift 2 ;;
        --workers) WORKERS=$2; shift 2 ;;
        --bodies) BODIES=$2; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        --out) OUT=$2; shift 2 ;;
        -h|--help) usage 0 ;;
        *) echo "unknown argument: $1" >&2; usage 2 >&2 ;;
    esac
done

case "$MODE" in
    compare) SERVERS=(bare inflight) ;;
    decision-log) SERVERS=(inflight inflight+log) ;;
    state) SERVERS=(inflight inflight+memory inflight+redis) ;;
    console) SERVERS=(inflight inflight+ui inflight+recent) ;;
    all) SERVERS=(bare inflight inflight+log inflight+ui inflight+recent) ;;
    *) echo "--mode is compare, decision-log, state, console or all" >&2; exit 2 ;;
esac

case "$RULES_ARG" in
    500|5k|50k) RULES=$CORPUS/rules-$RULES_ARG ;;
    bundled) RULES=$ROOT/rules ;;
    *) RULES=$RULES_ARG ;;
esac

# 1. wrk
if ! command -v wrk >/dev/null; then
    echo "== installing wrk (apt-get)"
    apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }
fi

# 2. build
if [ "$BUILD" = 1 ]; then
    echo "== cargo build --release --bin inflight --example bare_actix"
    cargo build --release --bin inflight --example bare_actix
fi
# INFLIGHT=/path/to/inflight compares another build (say, a branch built elsewhere).
INFLIGHT=${INFLIGHT:-$ROOT/target/release/inflight}
BARE=${BARE:-$ROOT/target/release/examples/bare_actix}

# 3. corpus
if [ ! -f "$CORPUS/messages.jsonl" ] || [ ! -d "$CORPUS/rules-5k" ]; then
    echo "== writing the corpus to $CORPUS"
    cargo run --release --example gen_corpus -- "$CORPUS"
fi
[ -d "$RULES" ] || { echo "no rules folder $RULES" >&2; exit 2; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/http-bench.XXXXXX")
PID=
REDIS_PID=
POLLER=
cleanup() {
    if [ -n "$PID" ]; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
    if [ -n "$REDIS_PID" ]; then kill "$REDIS_PID" 2>/dev/null || true; wait "$REDIS_PID" 2>/dev/null || true; fi
    if [ -n "$POLLER" ]; then kill "$POLLER" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# 4. bodies (in state mode with a sender and a muid that wrk fills in per request)
python3 - "$FIXTURE" "$CORPUS/messages.jsonl" "$BODIES" "$MODE" >"$WORK/bodies.jsonl" <<'EOF'
import json, sys
fixture, messages, n, mode = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
base = json.load(open(fixture, encoding="utf-8"))
if mode == "state":
    base["data"]["sender"] = "@SENDER@"
    base["data"]["muid"] = "@MUID@"
with open(messages, encoding="utf-8") as f:
    for i, line in zip(range(n), f):
        base["data"]["data"]["text"] = json.loads(line)["data"]["text"]
        print(json.dumps(base, ensure_ascii=False, separators=(",", ":")))
EOF
# Every run but the state mode's memory and redis ones serves the rules without their state rules
# (flood.toml and `counts` lines): the bodies all come from one sender, so a flood rule would drop
# every one of them after the first few, and the runs would measure that instead.
STATELESS=$WORK/rules-without-state
cp -r "$RULES" "$STATELESS"
rm -f "$STATELESS/flood.toml"
find "$STATELESS" -name '*.toml' -exec sed -i '/^counts = /d' {} +
if [ "$MODE" = state ]; then
    command -v redis-server >/dev/null || { echo "state mode needs redis-server (apt-get install redis-server)" >&2; exit 2; }
    REDIS_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    redis-server --port "$REDIS_PORT" --save '' --appendonly no --bind 127.0.0.1 >"$WORK/redis.log" 2>&1 &
    REDIS_PID=$!
fi
SIZES=$(awk '{ n++; s += length($0) } END { printf "%d bodies, %.0f bytes on average", n, s / n }' "$WORK/bodies.jsonl")
HITS=$("$INFLIGHT" replay --json --rules "$STATELESS" "$WORK/bodies.jsonl" | python3 -c '
import json, sys
a = json.load(sys.stdin)["actions"]
n = sum(a.values())
print("allow %d, tag %d, drop %d (%.1f %% hit rules)" % (a["allow"], a["tag"], a["drop"], 100 * (n - a["allow"]) / n))')

cat >"$WORK/post.lua" <<EOF
-- Posts the bodies of $WORK/bodies.jsonl in turn, each thread from its own offset.
-- Requests are formatted in init: wrk.path (from the URL) is set by then.
local bodies = {}
local i = 0
local threads = 0
function setup(thread)
    thread:set("first", threads * 37)
    threads = threads + 1
end
function init(args)
    for line in io.lines("$WORK/bodies.jsonl") do
        bodies[#bodies + 1] = wrk.format("POST", nil, { ["Content-Type"] = "application/json" }, line)
    end
    i = first or 0
end
function request()
    i = i % #bodies + 1
    return bodies[i]
end
EOF
if [ "$MODE" = state ]; then
    cat >"$WORK/post.lua" <<EOF
-- Posts the bodies of $WORK/bodies.jsonl in turn, each request with its own muid and one of
-- 10,000 senders.
local bodies = {}
local i = 0
local n = 0
local threads = 0
function setup(thread)
    thread:set("first", threads * 37)
    thread:set("tag", threads)
    threads = threads + 1
end
function init(args)
    for line in io.lines("$WORK/bodies.jsonl") do bodies[#bodies + 1] = line end
    i = first or 0
end
function request()
    i = i % #bodies + 1
    n = n + 1
    local body = bodies[i]:gsub("@SENDER@", "u" .. (n * 7919 % 10000)):gsub("@MUID@", "t" .. tag .. "-" .. n)
    return wrk.format("POST", nil, { ["Content-Type"] = "application/json" }, body)
end
EOF
fi

# Starts server $1 in the background; sets PID and ADDR once it says it listens and answers.
start() {
    local name=$1 log=$WORK/$1.log
    case "$name" in
        # shellcheck disable=SC2086 # BARE_ARGS is a list of words
        bare) "$BARE" --workers "$WORKERS" --listen 127.0.0.1:0 ${BARE_ARGS:-} 2>"$log" & ;;
        inflight) "$INFLIGHT" serve --workers "$WORKERS" --listen 127.0.0.1:0 --rules "$STATELESS" 2>"$log" & ;;
        inflight+memory) "$INFLIGHT" serve --workers "$WORKERS" --listen 127.0.0.1:0 --rules "$RULES" 2>"$log" & ;;
        inflight+redis) redis-cli -p "$REDIS_PORT" FLUSHALL >/dev/null
            "$INFLIGHT" serve --workers "$WORKERS" --listen 127.0.0.1:0 --rules "$RULES" \
            --state "redis://127.0.0.1:$REDIS_PORT" 2>"$log" & ;;
        inflight+log) "$INFLIGHT" serve --workers "$WORKERS" --listen 127.0.0.1:0 --rules "$STATELESS" \
            --decision-log "$WORK/decisions.jsonl" 2>"$log" & ;;
        inflight+ui) "$INFLIGHT" serve --workers "$WORKERS" --listen 127.0.0.1:0 --rules "$STATELESS" \
            --ui 2>"$log" & ;;
        inflight+recent) "$INFLIGHT" serve --workers "$WORKERS" --listen 127.0.0.1:0 --rules "$STATELESS" \
            --ui --ui-recent 10000 2>"$log" & ;;
    esac
    PID=$!
    ADDR=
    for _ in $(seq 600); do
        ADDR=$(sed -n 's/.*listening on \([0-9.]*:[0-9]*\).*/\1/p' "$log" | head -1)
        [ -n "$ADDR" ] && break
        kill -0 "$PID" 2>/dev/null || { cat "$log" >&2; echo "$name did not start" >&2; exit 1; }
        sleep 0.1
    done
    [ -n "$ADDR" ] || { echo "$name did not say it listens within 60 s" >&2; exit 1; }
    if [ "$name" = inflight+redis ]; then
        # Ready when the store is: /readyz says "state":"ok".
        for _ in $(seq 100); do curl -s "http://$ADDR/readyz" | grep -q '"state":"ok"' && break; sleep 0.1; done
    fi
    local status
    status=$(head -1 "$WORK/bodies.jsonl" | curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
        --data-binary @- "http://$ADDR/webhook")
    [ "$status" = 200 ] || { echo "$name answered $status to a body" >&2; exit 1; }
}

stop() {
    kill "$PID" 2>/dev/null || true
    wait "$PID" 2>/dev/null || true
    PID=
    rm -f "$WORK/decisions.jsonl"
}

# wrk's latency (e.g. 812.00us, 1.20ms, 2.01s) in microseconds.
to_us() {
    awk -v v="$1" 'BEGIN {
        n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
        if (u == "us") m = 1; else if (u == "ms") m = 1000; else if (u == "s") m = 1000000; else if (u == "m") m = 60000000; else m = 1
        printf "%.0f", n * m }'
}

# CPU time the server has used (user + system), in clock ticks.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$PID/stat"; }

# Runs wrk against the server started; appends "round server conns rps p50 p99 cpu errors" to
# runs.tsv, cpu being the server's CPU time per request in microseconds.
measure() {
    local round=$1 name=$2 threads=$3 conns=$4 out=$WORK/wrk.txt
    wrk -t"$threads" -c"$conns" -d"$WARMUP" -s "$WORK/post.lua" "http://$ADDR/webhook" >/dev/null
    local before after
    if [ "$name" = inflight+ui ] || [ "$name" = inflight+recent ]; then
        # The overview open in a browser: the page fetches its JSON every 5 s.
        (while true; do curl -s -o /dev/null "http://$ADDR/ui/api/overview"; sleep 5; done) &
        POLLER=$!
    fi
    before=$(cpu_ticks)
    wrk -t"$threads" -c"$conns" -d"$DURATION" --latency -s "$WORK/post.lua" "http://$ADDR/webhook" >"$out"
    after=$(cpu_ticks)
    if [ -n "$POLLER" ]; then kill "$POLLER" 2>/dev/null || true; wait "$POLLER" 2>/dev/null || true; POLLER=; fi
    local rps p50 p99 errors requests cpu
    rps=$(awk '/^Requests\/sec:/ { print $2 }' "$out")
    requests=$(awk '/requests in/ { print $1 }' "$out")
    cpu=$(awk -v t=$((after - before)) -v hz="$(getconf CLK_TCK)" -v n="$requests" 'BEGIN { printf "%.1f", t / hz * 1e6 / n }')
    p50=$(to_us "$(awk '$1 == "50%" { print $2 }' "$out")")
    p99=$(to_us "$(awk '$1 == "99%" { print $2 }' "$out")")
    errors=$(awk '/Non-2xx|Socket errors/ { gsub(/^ +/, ""); printf "%s; ", $0 }' "$out")
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$name" "$conns" "$rps" "$p50" "$p99" "$cpu" \
        "${errors:-none}" >>"$WORK/runs.tsv"
    printf '  round %s  %-13s c=%-3s %8.0f req/s   p50 %6s us   p99 %6s us   server CPU %5s us/req   errors: %s\n' \
        "$round" "$name" "$conns" "$rps" "$p50" "$p99" "$cpu" "${errors:-none}"
}

HEADER="http-bench $(date -u +%Y-%m-%dT%H:%MZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet 2>/dev/null || echo ' (+ uncommitted changes)')
rules: $RULES; $SIZES; $HITS
workers $WORKERS; wrk -t2 -c32 and -t1 -c4, -d$DURATION after a $WARMUP warm-up; $ROUNDS round(s); load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== $HEADER"
: >"$WORK/runs.tsv"
for round in $(seq "$ROUNDS"); do
    order=("${SERVERS[@]}")
    if [ $((round % 2)) = 0 ]; then
        # Even rounds run the servers in reverse order, so drift in the machine's load does not
        # always favour the same one.
        order=()
        for ((k = ${#SERVERS[@]} - 1; k >= 0; k--)); do order+=("${SERVERS[k]}"); done
    fi
    for name in "${order[@]}"; do
        start "$name"
        measure "$round" "$name" 2 32
        measure "$round" "$name" 1 4
        stop
    done
done

SUMMARY=$(python3 - "$WORK/runs.tsv" <<'EOF'
import statistics, sys
from collections import defaultdict
runs = defaultdict(list)   # (server, conns) -> [(round, rps, p50, p99)]
for line in open(sys.argv[1]):
    rnd, name, conns, rps, p50, p99, cpu, _ = line.rstrip("\n").split("\t")
    runs[(name, int(conns))].append((int(rnd), float(rps), float(p50), float(p99), float(cpu)))
def med(xs): return statistics.median(xs)
def spread(xs, f=".0f"): return f"{min(xs):{f}}-{max(xs):{f}}"
print("| server | conns | req/s median (range) | p50 us median (range) | p99 us median (range) | server CPU us/req (range) |")
print("|---|---|---|---|---|---|")
for (name, conns), rs in sorted(runs.items(), key=lambda kv: (-kv[0][1], kv[0][0])):
    rps, p50, p99, cpu = ([r[k] for r in rs] for k in (1, 2, 3, 4))
    print(f"| {name} | {conns} | {med(rps):.0f} ({spread(rps)}) | {med(p50):.0f} ({spread(p50)}) "
          f"| {med(p99):.0f} ({spread(p99)}) | {med(cpu):.1f} ({spread(cpu, '.1f')}) |")
print()
def ratios(num, den, conns):
    a, b = runs.get((num, conns)), runs.get((den, conns))
    if not a or not b: return
    by_round = {r[0]: r for r in b}
    pairs = [(x, by_round[x[0]]) for x in a if x[0] in by_round]
    rate = [x[1] / y[1] for x, y in pairs]
    p99 = [x[3] / y[3] for x, y in pairs]
    print(f"- {num} / {den} at {conns} connections: rate {med(rate):.3f} (per round: "
          f"{', '.join(f'{r:.3f}' for r in rate)}), p99 {med(p99):.3f} (per round: {', '.join(f'{r:.3f}' for r in p99)})")
for conns in (32, 4):
    ratios("inflight", "bare", conns)
    ratios("inflight+ui", "inflight", conns)
    ratios("inflight+recent", "inflight", conns)
    ratios("inflight+log", "inflight", conns)
    ratios("inflight+memory", "inflight", conns)
    ratios("inflight+redis", "inflight", conns)
EOF
)
echo
echo "$SUMMARY"

if [ -n "$OUT" ]; then
    {
        echo
        echo '```text'
        echo "$HEADER"
        echo "command: scripts/http-bench.sh --rules $RULES_ARG --mode $MODE --rounds $ROUNDS --duration $DURATION"
        echo "round server conns req/s p50_us p99_us server_cpu_us_per_req errors"
        tr '\t' ' ' <"$WORK/runs.tsv"
        echo '```'
        echo
        echo "$SUMMARY"
    } >>"$OUT"
fi
