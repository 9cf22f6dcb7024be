#!/usr/bin/env bash
# The project's one test command: installs what the tests need when it is missing (promtool, from
# Debian's `prometheus` package; redis-server and redis-cli, from `redis-server`: the state tests
# start real ones), checks and unit-tests the Prometheus alert rules, then runs the
# Rust suite (`cargo test`, with this script's arguments). A missing tool fails the run; nothing
# is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

need_promtool() {
    command -v promtool >/dev/null && return 0
    echo "scripts/test.sh: promtool is missing; installing the prometheus package" >&2
    if [ "$(id -u)" -ne 0 ]; then
        echo "scripts/test.sh: cannot install promtool: not root (run as root, or: apt-get install prometheus)" >&2
        exit 1
    fi
    if ! command -v apt-get >/dev/null; then
        echo "scripts/test.sh: cannot install promtool: no apt-get on this machine" >&2
        exit 1
    fi
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus
    command -v promtool >/dev/null || { echo "scripts/test.sh: promtool still missing after install" >&2; exit 1; }
}

need_redis() {
    command -v redis-server >/dev/null && command -v redis-cli >/dev/null && return 0
    echo "scripts/test.sh: redis-server is missing; installing the redis-server package" >&2
    if [ "$(id -u)" -ne 0 ]; then
        echo "scripts/test.sh: cannot install redis-server: not root (run as root, or: apt-get install redis-server)" >&2
        exit 1
    fi
    if ! command -v apt-get >/dev/null; then
        echo "scripts/test.sh: cannot install redis-server: no apt-get on this machine" >&2
        exit 1
    fi
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends redis-server
    # The package starts a system-wide instance on 6379; the tests start their own on free ports.
    command -v redis-server >/dev/null && command -v redis-cli >/dev/null ||
        { echo "scripts/test.sh: redis-server still missing after install" >&2; exit 1; }
}

need_promtool
need_redis
promtool check rules deploy/prometheus/inflight-alerts.yml
(cd deploy/prometheus && promtool test rules inflight-alerts.test.yml)
cargo test "$@"
