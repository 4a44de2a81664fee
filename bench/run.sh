#!/usr/bin/env bash
# bench/run.sh - Portcullis against its peers in one loopback benchmark run.
#
# Builds the release binary, starts Portcullis on a public (no-auth) route in front of the
# harness's nginx upstream, and runs the peer harness bench/peers/peers.sh with Portcullis as
# its extra target, so direct upstream, nginx-plain, apache-oidc and Portcullis are measured
# in the same run. Prints the harness's report, then the two target ratios:
#
#   Portcullis req/s ÷ nginx-plain req/s          target >= 0.8
#   Portcullis gw CPU µs/req ÷ nginx-plain's      target <= 1.3
#
# for `/` and `/16k` (median over REPEAT repetitions, each rep's figures alongside).
#
# usage: bench/run.sh            (from anywhere; it works from the project root)
#
# environment (defaults in brackets):
#   SCRATCH [.build]        SwiftPM scratch path for `swift build -c release`
#   PORTCULLIS_BIN          use this binary and skip the build
#   SKIP_BUILD [0]          1 = use $SCRATCH/release/portcullis without building
#   PC_PORT [18090]         Portcullis listen port (127.0.0.1 only)
#   PC_ACCESS_LOG [true]    logging.accessLog in the bench config
#   PC_MAX_IDLE [64]        upstreamPool.maxIdlePerUpstream
#   PC_MAX_LIFETIME [1800]  Portcullis runs under `timeout` and dies by itself after this
#   KEEP_TMP [0]            1 = keep the temp dir (config, Portcullis log)
#   passed through to the harness (see the header of bench/peers/peers.sh):
#   WRK_THREADS WRK_CONNS WRK_DURATION WARMUP REPEAT PATHS UP_WORKERS PLAIN_WORKERS
#   WRK_CPUS SERVER_CPUS WAIT_IDLE IDLE_MAX_PCT APACHE_PLAIN PB_RUN RESULTS_DIR PB_MAX_LIFETIME ...
set -euo pipefail

ROOT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# HARNESS (bench/peers/peers.sh), PBTOOL, LOGIN_PY, located next to lib.sh,
# resolve_portcullis_binary and start_portcullis
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

SCRATCH=${SCRATCH:-.build}
SKIP_BUILD=${SKIP_BUILD:-0}
PC_PORT=${PC_PORT:-18090}
PC_ACCESS_LOG=${PC_ACCESS_LOG:-true}
PC_MAX_IDLE=${PC_MAX_IDLE:-64}
PC_MAX_LIFETIME=${PC_MAX_LIFETIME:-1800}
KEEP_TMP=${KEEP_TMP:-0}
RESULTS_ROOT=${RESULTS_DIR:-/tmp/peerbench/results}
PC_URL="http://127.0.0.1:$PC_PORT"

log() { printf '[run %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[[ -x $HARNESS ]] || die "harness not found: $HARNESS"
for c in curl timeout python3; do command -v "$c" >/dev/null || die "missing command: $c"; done

# ------------------------------------------------------------------ build
resolve_portcullis_binary

# ------------------------------------------------------------------ config
TMP=$(mktemp -d /tmp/portcullis-bench.XXXXXX)
CONFIG=$TMP/bench.json
PC_LOG=$TMP/portcullis.log
PEERS_LOG=$TMP/peers.stderr
cat >"$CONFIG" <<EOF
{
  "listen": { "address": "127.0.0.1", "port": $PC_PORT },
  "admin": { "enabled": false },
  "routes": [ { "name": "bench", "pathPrefix": "/", "upstream": "http://127.0.0.1:18080", "public": true } ],
  "upstreamPool": { "maxIdlePerUpstream": $PC_MAX_IDLE },
  "logging": { "accessLog": $PC_ACCESS_LOG }
}
EOF
"$BIN" check-config "$CONFIG" >/dev/null || die "bench config rejected: $CONFIG"

# ------------------------------------------------------------------ start Portcullis
PC_WRAPPER=0
PC_PID=0
cleanup() {
    local rc=$? i
    if [[ $PC_WRAPPER -gt 0 ]] && kill -0 "$PC_WRAPPER" 2>/dev/null; then
        kill -TERM "$PC_WRAPPER" 2>/dev/null || true     # timeout forwards TERM to portcullis
        for ((i = 0; i < 50; i++)); do kill -0 "$PC_WRAPPER" 2>/dev/null || break; sleep 0.1; done
        if kill -0 "$PC_WRAPPER" 2>/dev/null; then
            [[ $PC_PID -gt 0 ]] && kill -KILL "$PC_PID" 2>/dev/null || true
            kill -KILL "$PC_WRAPPER" 2>/dev/null || true
        fi
        log "portcullis stopped"
    fi
    if [[ $KEEP_TMP == 1 ]]; then log "kept $TMP"; else rm -rf "$TMP"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start_portcullis "$CONFIG" "$PC_URL" "$PC_LOG" "$PC_MAX_LIFETIME"
log "portcullis up on $PC_URL (pid $PC_PID, binary $BIN)"

# ------------------------------------------------------------------ run the harness
# The harness's own variables (WRK_THREADS, REPEAT, ...) are inherited from the environment.
set +e
EXTRA_NAME=portcullis EXTRA_URL=$PC_URL EXTRA_PID=$PC_PID EXTRA_LOGIN=0 \
    "$HARNESS" all 2> >(tee "$PEERS_LOG" >&2)
hrc=$?
set -e
sleep 0.2   # let tee finish
kill -0 "$PC_PID" 2>/dev/null || { tail -n 30 "$PC_LOG" >&2; die "portcullis died during the run"; }
[[ $hrc -eq 0 ]] || die "harness failed (rc=$hrc)"

OUTDIR=$(sed -n 's/.*] results: //p' "$PEERS_LOG" | tail -1)
if [[ -z $OUTDIR || ! -f $OUTDIR/results.tsv ]]; then
    OUTDIR=$(ls -1dt "$RESULTS_ROOT"/*/ 2>/dev/null | head -1); OUTDIR=${OUTDIR%/}
fi
[[ -f $OUTDIR/results.tsv ]] || die "no results.tsv found (looked in $OUTDIR)"

warnings=$(grep -c -E ' (WARNING|ERROR|CRITICAL) ' "$PC_LOG" || true)
log_lines=$(wc -l <"$PC_LOG")

# ------------------------------------------------------------------ summary
python3 - "$OUTDIR/results.tsv" <<'PY'
import os, statistics, sys
from collections import defaultdict

CLK = os.sysconf("SC_CLK_TCK")
rows = []
with open(sys.argv[1]) as fh:
    head = fh.readline().rstrip("\n").split("\t")
    for line in fh:
        rows.append(dict(zip(head, line.rstrip("\n").split("\t"))))

def num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return float("nan")

def gw_us(r):
    req = num(r["requests"])
    return num(r["gw_ticks"]) * 1e6 / CLK / req if req else float("nan")

by = defaultdict(dict)   # (path, rep) -> target -> row
for r in rows:
    by[(r["path"], r["rep"])][r["target"]] = r

def med(xs):
    xs = [x for x in xs if x == x]
    return statistics.median(xs) if xs else float("nan")

paths = []
for r in rows:
    if r["path"] not in paths:
        paths.append(r["path"])

print("\n== Portcullis vs nginx-plain (targets: req/s ratio >= 0.8, gw CPU/req ratio <= 1.3) ==")
fmt = "{:<6} {:>4}  {:>10} {:>10} {:>9}  {:>9} {:>9} {:>9}  {:>10} {:>10}"
print(fmt.format("path", "rep", "pc req/s", "ng req/s", "rps ratio", "pc µs/req", "ng µs/req", "cpu ratio",
                 "pc p50/p99", "ng p50/p99"))
verdicts = []
for path in paths:
    rr, cr = [], []
    for (p, rep), t in sorted(by.items(), key=lambda kv: (kv[0][0], int(kv[0][1]))):
        if p != path or "portcullis" not in t or "nginx-plain" not in t:
            continue
        pc, ng = t["portcullis"], t["nginx-plain"]
        r1 = num(pc["rps"]) / num(ng["rps"]) if num(ng["rps"]) else float("nan")
        r2 = gw_us(pc) / gw_us(ng) if gw_us(ng) else float("nan")
        rr.append(r1); cr.append(r2)
        print(fmt.format(path, rep, f"{num(pc['rps']):.0f}", f"{num(ng['rps']):.0f}", f"{r1:.3f}",
                         f"{gw_us(pc):.1f}", f"{gw_us(ng):.1f}", f"{r2:.3f}",
                         f"{num(pc['p50_ms']):.2f}/{num(pc['p99_ms']):.2f}",
                         f"{num(ng['p50_ms']):.2f}/{num(ng['p99_ms']):.2f}"))
    m1, m2 = med(rr), med(cr)
    ok1, ok2 = m1 >= 0.8, m2 <= 1.3
    verdicts.append(ok1 and ok2)
    print(f"{path:<6} {'med':>4}  req/s ratio {m1:.3f} ({'MET' if ok1 else 'NOT MET'}, >= 0.8)   "
          f"CPU/req ratio {m2:.3f} ({'MET' if ok2 else 'NOT MET'}, <= 1.3)")
print("overall: " + ("all targets met" if verdicts and all(verdicts) else "targets NOT all met"))
PY
echo "portcullis log: $log_lines lines, $warnings warning/error lines; results: $OUTDIR"
