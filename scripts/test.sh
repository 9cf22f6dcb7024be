#!/usr/bin/env bash
# The project's one test entry point: installs the OS packages the test suite reads, then runs
# `cargo test` with whatever arguments it was given (`scripts/test.sh --test it evasion::`).
#
# OS packages:
#   wamerican  /usr/share/dict/american-english: tests/it/dictionary.rs sends every word through
#              rules/; scripts/gen_evasion_corpus.py and scripts/gen_collapse_targets.py read it.
#
# A package is installed only when missing (apt-get, as root or through sudo); when it cannot be,
# the script stops with an error instead of letting a test fail later for an unclear reason.
set -euo pipefail

need_file_from_package() {
  local file="$1" package="$2"
  [[ -e "$file" ]] && return 0
  echo "scripts/test.sh: $file is missing; installing the Debian package $package" >&2
  local sudo=()
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || { echo "scripts/test.sh: need root or sudo to install $package" >&2; exit 1; }
    sudo=(sudo)
  fi
  command -v apt-get >/dev/null || { echo "scripts/test.sh: no apt-get; install $package (for $file) by hand" >&2; exit 1; }
  "${sudo[@]}" apt-get update -qq || { echo "scripts/test.sh: apt-get update failed" >&2; exit 1; }
  "${sudo[@]}" apt-get install -y -qq "$package" || { echo "scripts/test.sh: cannot install $package" >&2; exit 1; }
  [[ -e "$file" ]] || { echo "scripts/test.sh: $package installed but $file is still missing" >&2; exit 1; }
}

need_file_from_package /usr/share/dict/american-english wamerican

cd "$(dirname "$0")/.."
exec cargo test "$@"
