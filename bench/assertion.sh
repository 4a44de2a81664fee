#!/usr/bin/env bash
# bench/assertion.sh - what signing one identity assertion costs (a per-loop cache miss).
#
# Builds AssertionBench (release) and runs it: COUNT ES256 assertions with realistic claims,
# printing CPU µs per signature and the assertion's size. No network. The cached cost (what a
# proxied request pays while its assertion is fresh) is measured end to end by
#   AUTH_AUTHZ=1 STORES=memory bench/auth.sh   against   STORES=memory bench/auth.sh
#
# usage: bench/assertion.sh [COUNT]         (default 20000)
# environment: SCRATCH [.build], SKIP_BUILD [0]
set -euo pipefail
ROOT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
SCRATCH=${SCRATCH:-.build}
if [[ ${SKIP_BUILD:-0} != 1 ]]; then
    swift build -c release --product AssertionBench --scratch-path "$SCRATCH" >&2
fi
timeout 600 "$SCRATCH/release/AssertionBench" "${1:-20000}"
