#!/usr/bin/env bash
# bench/instructions.sh - CPU instructions per proxied request, counted by callgrind.
#
# Wall-clock runs on a shared 2-core machine move by several per cent between runs; the
# instruction count per request moves by well under one, so it is the figure to compare
# changes with. Starts Portcullis under valgrind (callgrind, instrumentation off), warms up
# with wrk, counts only during a fixed wrk run, and prints instructions per request and the
# functions that cost the most. Loopback only; everything runs under `timeout`.
#
# usage: bench/instructions.sh [PATH]        (default /)
#
# With IC_AUTH=1 the route is protected instead of public: Portcullis signs in at the harness's
# IdP (oidc-provider-mock on IC_IDP, started by bench/peers/peers.sh start), the script
# logs in as alice with bench/peers/login.py and wrk sends that session cookie, so the
# count is of authenticated requests served from the in-process session cache.
#
# environment (defaults in brackets):
#   UPSTREAM [http://127.0.0.1:18080]  the upstream to proxy to (the harness's nginx when
#                    bench/peers/peers.sh start runs); when nothing answers there, the
#                    built-in echo upstream is started instead (its answers are larger, so
#                    compare numbers only between runs against the same upstream)
#   IC_PORT [18095]  IC_DURATION [6] (seconds counted)  IC_CONNS [32]  IC_ACCESS_LOG [true]
#   IC_TOP [25]      functions listed   KEEP_TMP [0]
#   IC_AUTH [0]      1 = protected route, signed-in requests   IC_IDP [http://127.0.0.1:9400]
#   SCRATCH, PORTCULLIS_BIN, SKIP_BUILD as for bench/run.sh
#
# Two valgrind 3.19 quirks are handled here: it cannot read the DWARF 5 debug info of a
# Swift release binary (a copy without debug info is profiled; symbols remain), and it
# crashes when libdispatch passes a read-only signal mask to sigsuspend (a small
# LD_PRELOAD shim passes a copy).
set -euo pipefail

ROOT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# HARNESS (bench/peers/peers.sh), PBTOOL, LOGIN_PY, located next to lib.sh, and
# resolve_portcullis_binary
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
URLPATH=${1:-/}
SCRATCH=${SCRATCH:-.build}
UPSTREAM=${UPSTREAM:-http://127.0.0.1:18080}
IC_PORT=${IC_PORT:-18095}
IC_DURATION=${IC_DURATION:-6}
IC_CONNS=${IC_CONNS:-32}
IC_ACCESS_LOG=${IC_ACCESS_LOG:-true}
IC_TOP=${IC_TOP:-25}
KEEP_TMP=${KEEP_TMP:-0}
IC_AUTH=${IC_AUTH:-0}
IC_IDP=${IC_IDP:-http://127.0.0.1:9400}

log() { printf '[instructions %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
for c in valgrind callgrind_control callgrind_annotate wrk curl gcc strip timeout python3; do
    command -v "$c" >/dev/null || die "missing command: $c"
done
[[ $UPSTREAM == http://127.0.0.1:* ]] || die "UPSTREAM must be a loopback URL"

resolve_portcullis_binary

TMP=$(mktemp -d /tmp/portcullis-instructions.XXXXXX)
PIDS=()
cleanup() {
    local rc=$? pid
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    if [[ $KEEP_TMP == 1 ]]; then log "kept $TMP"; else rm -rf "$TMP"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

strip --strip-debug -o "$TMP/portcullis" "$BIN"
cat >"$TMP/sigsuspend.c" <<'EOF'
#define _GNU_SOURCE
#include <signal.h>
#include <unistd.h>
#include <sys/syscall.h>
/* valgrind 3.19 writes into the mask given to rt_sigsuspend; libdispatch's is read-only. */
int sigsuspend(const sigset_t *mask) {
    sigset_t copy = *mask;
    return (int)syscall(SYS_rt_sigsuspend, &copy, 8);
}
EOF
gcc -shared -fPIC -O2 -o "$TMP/sigsuspend.so" "$TMP/sigsuspend.c"

up_port=${UPSTREAM##*:}; up_port=${up_port%%/*}
if ! curl -s --noproxy '*' --max-time 2 -o /dev/null "$UPSTREAM/"; then
    log "nothing answers at $UPSTREAM: starting the echo upstream there"
    timeout 900 "$BIN" echo-upstream --port "$up_port" >"$TMP/echo.log" 2>&1 &
    PIDS+=($!)
    for ((i = 0; i < 50; i++)); do curl -s --noproxy '*' --max-time 1 -o /dev/null "$UPSTREAM/" && break; sleep 0.1; done
fi

URL=http://127.0.0.1:$IC_PORT
if [[ $IC_AUTH == 1 ]]; then
    [[ $IC_IDP == http://127.0.0.1:* ]] || die "IC_IDP must be a loopback URL"
    [[ -f $LOGIN_PY ]] || die "login helper not found: $LOGIN_PY"
    curl -s --noproxy '*' --max-time 2 -o /dev/null "$IC_IDP/.well-known/openid-configuration" \
        || die "no IdP at $IC_IDP (run $HARNESS start)"
    head -c 32 /dev/urandom | base64 | tr -d '/+=' >"$TMP/client-secret"   # the mock accepts any secret
    "$BIN" keys generate --file "$TMP/session-keys" >/dev/null || die "portcullis keys generate failed"
    cat >"$TMP/config.json" <<EOF
{
  "listen": { "address": "127.0.0.1", "port": $IC_PORT },
  "admin": { "enabled": false },
  "publicURL": "$URL",
  "routes": [ { "name": "bench", "pathPrefix": "/", "upstream": "$UPSTREAM" } ],
  "logging": { "accessLog": $IC_ACCESS_LOG },
  "entra": {
    "discoveryURL": "$IC_IDP/.well-known/openid-configuration",
    "clientId": "portcullis-bench",
    "clientSecretFile": "$TMP/client-secret",
    "scopes": ["openid", "profile", "email", "offline_access"]
  },
  "session": { "keysFile": "$TMP/session-keys" }
}
EOF
else
    cat >"$TMP/config.json" <<EOF
{
  "listen": { "address": "127.0.0.1", "port": $IC_PORT },
  "admin": { "enabled": false },
  "routes": [ { "name": "bench", "pathPrefix": "/", "upstream": "$UPSTREAM", "public": true } ],
  "logging": { "accessLog": $IC_ACCESS_LOG }
}
EOF
fi
OUT=$TMP/callgrind.out
LD_PRELOAD=$TMP/sigsuspend.so timeout 900 valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$OUT" \
    "$TMP/portcullis" serve --config "$TMP/config.json" >"$TMP/portcullis.log" 2>"$TMP/valgrind.log" &
WRAPPER=$!
PIDS+=("$WRAPPER")
for ((i = 0; i < 300; i++)); do
    [[ $(curl -s --noproxy '*' --max-time 2 -o /dev/null -w '%{http_code}' "$URL/.portcullis/healthz" || true) == 200 ]] && break
    kill -0 "$WRAPPER" 2>/dev/null || { tail -n 20 "$TMP/valgrind.log" >&2; die "portcullis exited under valgrind"; }
    sleep 0.2
done
VPID=$(ps -o pid= --ppid "$WRAPPER" | head -1 | tr -d ' ')
[[ $VPID =~ ^[0-9]+$ ]] || die "cannot find valgrind under timeout (pid $WRAPPER)"

WRK_ARGS=()
if [[ $IC_AUTH == 1 ]]; then
    log "signing in as alice through the gateway (slow under valgrind)"
    cookie=$(python3 "$LOGIN_PY" --gateway "$URL" --path "$URLPATH" --idp "$IC_IDP" --timeout 60 \
        2>"$TMP/login.log") || { tail -n 20 "$TMP/login.log" >&2; die "login through the gateway failed"; }
    WRK_ARGS=(-H "Cookie: $cookie")
fi

log "warming up, then counting ${IC_DURATION}s of wrk -t1 -c$IC_CONNS $URL$URLPATH${WRK_ARGS:+ (signed in)}"
wrk -t1 -c"$IC_CONNS" -d2s "${WRK_ARGS[@]}" "$URL$URLPATH" >/dev/null
callgrind_control -i on "$VPID" >/dev/null 2>&1
wrk -t1 -c"$IC_CONNS" -d"${IC_DURATION}s" "${WRK_ARGS[@]}" "$URL$URLPATH" >"$TMP/wrk.txt"
callgrind_control -i off "$VPID" >/dev/null 2>&1
callgrind_control -d "$VPID" >/dev/null 2>&1
sleep 0.5

python3 - "$OUT.1" "$TMP/wrk.txt" "$IC_TOP" <<'PY'
import re, subprocess, sys
profile, wrk, top = sys.argv[1], open(sys.argv[2]).read(), int(sys.argv[3])
requests = int(re.search(r"(\d+) requests in", wrk).group(1))
errors = re.search(r"Non-2xx or 3xx responses: (\d+)", wrk)
report = subprocess.run(["callgrind_annotate", profile], capture_output=True, text=True).stdout
total = int(re.search(r"([\d,]+) \(100.0%\)\s+PROGRAM TOTALS", report).group(1).replace(",", ""))
print(f"requests {requests}{' (' + errors.group(1) + ' not 2xx/3xx)' if errors else ''}, "
      f"instructions {total:,}, per request {total / requests:,.0f}")
lines = [l for l in report.splitlines() if re.match(r"\s*[\d,]+ \(\s*[\d.]+%\)\s+\S", l) and "PROGRAM TOTALS" not in l]
names = []
for line in lines[:top]:
    cost, _, name = line.strip().partition(" ")
    name = re.sub(r"\s*\[[^]]*\]$", "", name.split(")", 1)[1].strip()).removeprefix("???:")
    names.append((int(cost.replace(",", "")), name))
demangler = ["swift", "demangle", "--simplified"]
try:
    shown = subprocess.run(demangler, input="\n".join(n for _, n in names), capture_output=True, text=True).stdout.splitlines()
except OSError:
    shown = [n for _, n in names]
for (cost, _), name in zip(names, shown):
    print(f"{cost / requests:9,.0f}  {name[:140]}")
PY
