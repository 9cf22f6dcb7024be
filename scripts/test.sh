#!/usr/bin/env bash
# The project's one test command: installs what the tests need when it is missing (promtool, from
# Debian's `prometheus` package; Chromium and chromedriver, from `chromium` and `chromium-driver`,
# for the console's browser tests), checks and unit-tests the Prometheus alert rules, then runs
# the Rust suite (`cargo test`, with this script's arguments). A missing tool fails the run;
# nothing is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

# need TOOL PACKAGE...: installs the Debian PACKAGEs when TOOL is not on the PATH, or fails saying why.
need() {
    local tool=$1
    shift
    command -v "$tool" >/dev/null && return 0
    echo "scripts/test.sh: $tool is missing; installing $*" >&2
    if [ "$(id -u)" -ne 0 ]; then
        echo "scripts/test.sh: cannot install $tool: not root (run as root, or: apt-get install $*)" >&2
        exit 1
    fi
    if ! command -v apt-get >/dev/null; then
        echo "scripts/test.sh: cannot install $tool: no apt-get on this machine (it comes with: $*)" >&2
        exit 1
    fi
    if [ -z "${APT_UPDATED:-}" ]; then
        apt-get update
        APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@"
    command -v "$tool" >/dev/null || { echo "scripts/test.sh: $tool still missing after installing $*" >&2; exit 1; }
}

need promtool prometheus
# The console's browser tests (tests/it/console.rs) drive headless Chromium through chromedriver.
need chromium chromium
need chromedriver chromium chromium-driver
promtool check rules deploy/prometheus/inflight-alerts.yml
(cd deploy/prometheus && promtool test rules inflight-alerts.test.yml)
cargo test "$@"
