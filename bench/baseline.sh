#!/usr/bin/env bash
# bench/baseline.sh - signed-in CPU per request of the current code against an earlier commit,
# each with nginx-plain measured in the same harness invocation, alternating, on one machine.
#
# The nginx ratios of bench/auth.sh move with the machine (nginx-plain itself measured 14.9 to
# 19.9 µs per request on one day), so "the hot path keeps its figures" is best judged against
# the earlier commit measured now, beside the current code. This builds REV (release) in a
# throw-away git worktree, then runs bench/auth.sh (memory store, one repetition) ROUNDS times
# for each binary, alternating, and prints per round and as medians: the gateway's CPU µs per
# signed-in request, nginx-plain's from the same invocation, and their ratio, on / and /16k.
#
# usage: bench/baseline.sh REV            (for example 7086c23)
#
# environment (defaults in brackets):
#   ROUNDS [2]                how many times each binary is measured
#   SCRATCH [.build]          SwiftPM scratch path of the current code's release build
#   SKIP_BUILD [0]            1 = use $SCRATCH/release/portcullis without building it
#   PORTCULLIS_BIN            the current code's binary, as it is (no build)
#   BASELINE_DIR [/tmp/portcullis-baseline-REV]   worktree and build of REV; kept, so a
#                             second run skips the (full, about 10 minutes) build
#   passed through to bench/auth.sh: AUTH_AUTHZ, PC_ACCESS_LOG, WRK_THREADS, WRK_CONNS,
#   WRK_DURATION and the rest of its environment
set -euo pipefail

ROOT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
REV=${1:?usage: bench/baseline.sh REV}
ROUNDS=${ROUNDS:-2}
SCRATCH=${SCRATCH:-.build}
SKIP_BUILD=${SKIP_BUILD:-0}

log() { printf '[baseline %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

COMMIT=$(git rev-parse --verify --quiet "$REV^{commit}") || die "not a commit: $REV"
SHORT=${COMMIT:0:7}
BASELINE_DIR=${BASELINE_DIR:-/tmp/portcullis-baseline-$SHORT}
OUT=$(mktemp -d /tmp/portcullis-baseline-run.XXXXXX)

# ------------------------------------------------------------------ the two binaries
# resolve_portcullis_binary: the current code's release binary into $BIN (built unless SKIP_BUILD=1)
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
resolve_portcullis_binary
CURRENT_BIN=$BIN

if [[ ! -d $BASELINE_DIR/tree ]]; then
    mkdir -p "$BASELINE_DIR"
    git worktree add --detach "$BASELINE_DIR/tree" "$COMMIT" >&2
fi
BASELINE_BIN=$BASELINE_DIR/tree/.build-release/release/portcullis
if [[ ! -x $BASELINE_BIN ]]; then
    log "building $SHORT in $BASELINE_DIR/tree (a full release build)"
    (cd "$BASELINE_DIR/tree" && swift build -c release --product portcullis --scratch-path .build-release >&2)
fi
log "when done: git worktree remove --force $BASELINE_DIR/tree"

# A binary older than the admin listener refuses the config's admin line: leave it out.
admin_line_for() {
    local config=$OUT/probe.json
    printf '{ "admin": { "enabled": false }, "routes": [ { "name": "a", "upstream": "http://127.0.0.1:1", "public": true } ] }\n' >"$config"
    if "$1" check-config "$config" >/dev/null 2>&1; then printf '%s' '  "admin": { "enabled": false },'; fi
}
CURRENT_ADMIN=$(admin_line_for "$CURRENT_BIN")
BASELINE_ADMIN=$(admin_line_for "$BASELINE_BIN")

# ------------------------------------------------------------------ measure, alternating
for ((round = 1; round <= ROUNDS; round++)); do
    for which in current baseline; do
        if [[ $which == current ]]; then bin=$CURRENT_BIN admin=$CURRENT_ADMIN; else bin=$BASELINE_BIN admin=$BASELINE_ADMIN; fi
        log "round $round: $which"
        PORTCULLIS_BIN=$bin PC_ADMIN_LINE=$admin STORES=memory REPEAT=1 bench/auth.sh >"$OUT/$which-$round.log" 2>&1 \
            || { tail -n 20 "$OUT/$which-$round.log" >&2; die "bench/auth.sh failed for $which (log: $OUT/$which-$round.log)"; }
    done
done

# ------------------------------------------------------------------ report
python3 - "$OUT" "$ROUNDS" "$SHORT" "$(git rev-parse --short HEAD)" <<'PY'
import re, statistics, sys
out, rounds, base, head = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
def figures(path):
    """{(target, path): gw CPU µs/req} from bench/auth.sh's figures table."""
    rows, on = {}, False
    for line in open(path, encoding="utf-8"):
        if line.startswith("== authenticated throughput: figures"): on = True; continue
        if on and line.startswith("=="): break
        cells = line.split()
        if on and len(cells) >= 10 and cells[0] in ("nginx-plain", "portcullis-memory"):
            # target, invocation (two words), path, rep, req/s, p50, p99, gw CPU µs/req, ...
            rows[(cells[0], cells[3])] = float(cells[8])
    return rows
print(f"\n== signed-in CPU per request: current ({head}) against {base}, same machine, alternating ==")
print(f"{'round':>5}  {'binary':<9} {'path':<5} {'gw µs/req':>9} {'nginx µs/req':>12} {'ratio':>6}")
ratios = {}
for r in range(1, rounds + 1):
    for which in ("current", "baseline"):
        rows = figures(f"{out}/{which}-{r}.log")
        for path in ("/", "/16k"):
            gw, nginx = rows.get(("portcullis-memory", path)), rows.get(("nginx-plain", path))
            if gw is None or nginx is None:
                print(f"{r:>5}  {which:<9} {path:<5} {'?':>9} {'?':>12} {'?':>6}"); continue
            ratios.setdefault((which, path), []).append((gw, gw / nginx))
            print(f"{r:>5}  {which:<9} {path:<5} {gw:9.1f} {nginx:12.1f} {gw / nginx:6.2f}")
print("\nmedians:")
for path in ("/", "/16k"):
    for which in ("current", "baseline"):
        values = ratios.get((which, path), [])
        if values:
            print(f"  {path:<5} {which:<9} gw {statistics.median(v[0] for v in values):6.1f} µs/req   ratio to nginx {statistics.median(v[1] for v in values):5.2f}")
PY
log "logs in $OUT"
