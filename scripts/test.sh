#!/usr/bin/env bash
# The project's one test command: installs what the tests need from Debian's packages when it is
# missing, checks and unit-tests the Prometheus alert rules, then runs the Rust suite (`cargo
# test`, with this script's arguments). A missing tool that cannot be installed fails the run;
# nothing is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

# What the tests use, and the package that brings it: a command on PATH, or a file.
NEEDS=(
    "promtool prometheus"                          # the alert rules' unit tests
    "/usr/share/dict/american-english wamerican"   # tests/it/dictionary.rs: every English word
    "redis-server redis-server"                    # tests/it/state*.rs start real ones on free ports
    "redis-cli redis-server"
    "chromium chromium"                            # tests/it/console.rs drives headless Chromium
    "chromedriver chromium-driver"                 # through chromedriver
)

missing=()
for need in "${NEEDS[@]}"; do
    read -r what package <<<"$need"
    if [[ $what == /* ]]; then [ -e "$what" ] && continue; else command -v "$what" >/dev/null && continue; fi
    echo "scripts/test.sh: $what is missing; installing the $package package" >&2
    missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
        echo "scripts/test.sh: cannot install ${missing[*]}: run as root on a Debian machine, or install them yourself" >&2
        exit 1
    fi
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
    for need in "${NEEDS[@]}"; do
        read -r what package <<<"$need"
        if [[ $what == /* ]]; then found=$([ -e "$what" ] && echo y || true); else found=$(command -v "$what" || true); fi
        [ -n "$found" ] || { echo "scripts/test.sh: $what still missing after installing $package" >&2; exit 1; }
    done
fi

promtool check rules deploy/prometheus/inflight-alerts.yml
(cd deploy/prometheus && promtool test rules inflight-alerts.test.yml)
cargo test "$@"
