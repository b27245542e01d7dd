#!/bin/sh
# The peers' own virtualenvs, never the project's .venv: var/bench-peers/{quix,faust}.
# (Not under var/bench/: `make bench` wipes that data dir on every start.)
# Exact pins so every run measures the same peer code. Idempotent.
set -e
cd "$(dirname "$0")/../.."
PYTHON="${BENCH_PEER_PYTHON:-.venv/bin/python}"
mkdir -p var/bench-peers
make_venv() {
    name="$1"; shift
    if [ ! -x "var/bench-peers/$name/bin/python" ]; then
        "$PYTHON" -m venv "var/bench-peers/$name"
    fi
    "var/bench-peers/$name/bin/pip" install --quiet --disable-pip-version-check "$@"
}
make_venv quix quixstreams==3.28.1 orjson==3.13.0
make_venv faust faust-streaming==0.15.3 orjson==3.13.0
