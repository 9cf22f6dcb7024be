#!/usr/bin/env bash
# The project's one test command: installs what the tests need when it is missing (promtool, from
# Debian's `prometheus` package; the English word list /usr/share/dict/american-english, from
# `wamerican`, which tests/it/dictionary.rs reads), checks and unit-tests the Prometheus alert
# rules, then runs the Rust suite (`cargo test`, with this script's arguments). A missing tool
# fails the run; nothing is skipped.
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

need_word_list() {
    [ -e /usr/share/dict/american-english ] && return 0
    echo "scripts/test.sh: /usr/share/dict/american-english is missing; installing the wamerican package" >&2
    if [ "$(id -u)" -ne 0 ]; then
        echo "scripts/test.sh: cannot install the word list: not root (run as root, or: apt-get install wamerican)" >&2
        exit 1
    fi
    if ! command -v apt-get >/dev/null; then
        echo "scripts/test.sh: cannot install the word list: no apt-get on this machine" >&2
        exit 1
    fi
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends wamerican
    [ -e /usr/share/dict/american-english ] || { echo "scripts/test.sh: word list still missing after install" >&2; exit 1; }
}

need_promtool
need_word_list
promtool check rules deploy/prometheus/inflight-alerts.yml
(cd deploy/prometheus && promtool test rules inflight-alerts.test.yml)
cargo test "$@"
