#!/usr/bin/env bash
# bench/session-memory.sh - what 100,000 live sessions cost in the memory session store.
#
# Builds the SessionMemoryBench executable (release) and runs it: it fills a SessionCache
# (the `memory` store) with realistic Entra-shaped sessions and prints the RSS before and
# after, the delta, bytes per session, and PASS/FAIL against the target: <= 300 MiB above
# idle per 100,000 sessions, each with a 1,500-character refresh token (scaled linearly for
# another SESSIONS). Nothing listens on the network.
#
# usage: bench/session-memory.sh [SESSIONS [LIMIT_MIB]]     (defaults 100000 300)
#
# environment (defaults in brackets):
#   SCRATCH [.build]    SwiftPM scratch path for `swift build -c release`
#   SKIP_BUILD [0]      1 = use $SCRATCH/release/SessionMemoryBench without building
#   SM_RUNS [1]         run it this many times (fresh processes; the figure moves a little
#                       with the allocator's layout)
#   SM_TIMEOUT [600]    each run is killed after this many seconds
# Exit status: 0 PASS (every run), 1 FAIL, 2 error.
set -euo pipefail

ROOT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
SCRATCH=${SCRATCH:-.build}
SKIP_BUILD=${SKIP_BUILD:-0}
SM_RUNS=${SM_RUNS:-1}
SM_TIMEOUT=${SM_TIMEOUT:-600}

log() { printf '[session-memory %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "ERROR: $*"; exit 2; }

if [[ $SKIP_BUILD != 1 ]]; then
    log "building SessionMemoryBench (release, scratch path $SCRATCH)"
    swift build -c release --product SessionMemoryBench --scratch-path "$SCRATCH" >&2 || die "build failed"
fi
BENCH=$SCRATCH/release/SessionMemoryBench
[[ -x $BENCH ]] || die "no binary at $BENCH"

# the target, passed explicitly so the verdict does not depend on the binary's own default
set -- "${1:-100000}" "${2:-300}" "${@:3}"
log "target: RSS delta <= $2 MiB per 100,000 sessions (1,500-character refresh tokens), scaled to $1 sessions"

worst=0
for ((run = 1; run <= SM_RUNS; run++)); do
    [[ $SM_RUNS -gt 1 ]] && echo "-- run $run of $SM_RUNS"
    set +e
    timeout -s KILL "$SM_TIMEOUT" "$BENCH" "$@"
    rc=$?
    set -e
    case $rc in
        0) ;;
        1) worst=1 ;;
        *) die "SessionMemoryBench failed (exit $rc)" ;;
    esac
done
exit "$worst"
